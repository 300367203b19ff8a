"""Speech in the IVR: audio from Asterisk over AudioSocket (:mod:`ivr.speech.audiosocket`,
:mod:`ivr.speech.server`) to a Vosk recogniser (:mod:`ivr.speech.recognizer`)."""
