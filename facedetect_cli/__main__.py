from facedetect_cli.cli.main import main

main()
