from ivr.prompts.build import main

raise SystemExit(main())
