"""The local emulator's face detector (YuNet) and face embedder (SFace), on OpenCV."""
