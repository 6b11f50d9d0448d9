"""Live probes: run the deployed workload locally against the emulator and exercise it as AWS would."""
