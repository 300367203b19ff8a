"""The 19524 IVR: the FastAGI server (``ivr.fastagi``), its routes (``ivr.routes``) and the menu they run."""
