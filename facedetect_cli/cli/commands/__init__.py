"""One thin click command per module; each hands its work to the app through runner.run."""
