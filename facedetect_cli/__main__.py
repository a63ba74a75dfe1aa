from facedetect_cli.cli import main

main()
