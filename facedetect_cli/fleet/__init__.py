"""Many targets at once: targets files and the concurrent runner that runs one engine per
account and region."""
