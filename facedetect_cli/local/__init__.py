"""The embedded local emulator (moto, patched where it differs from AWS) and its life cycle."""
