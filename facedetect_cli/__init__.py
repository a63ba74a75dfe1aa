"""facedetect: provision a serverless face-detection pipeline on AWS, and take it down again."""

__version__ = "0.1.0"
