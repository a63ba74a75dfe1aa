from __future__ import annotations

from pathlib import Path

import click

from facedetect_cli.cli.options import CommonOptions, common_options
from facedetect_cli.cli.runner import Run, run


@click.command()
@click.argument("image", type=click.Path(path_type=Path))
@click.option("--no-wait", is_flag=True, help="Upload and stop; do not follow the execution.")
@click.option("--timeout", "timeout_s", type=click.IntRange(1, 3600), default=300,
              show_default=True, help="Seconds to wait for the execution to start and finish.")
@common_options()
def detect(opts: CommonOptions, image: Path, no_wait: bool, timeout_s: int) -> None:
    """Upload IMAGE (.jpg/.jpeg/.png) under uploads/, follow the execution the upload starts,
    and print the faces found. Exit 0 on success, 1 when the pipeline failed."""
    run(opts, lambda r: _detect(r, image, no_wait=no_wait, timeout_s=timeout_s))


def _detect(r: Run, image: Path, *, no_wait: bool, timeout_s: int) -> int:
    from facedetect_cli.cli import render
    from facedetect_cli.engine.config import StackConfig
    from facedetect_cli.errors import FacedetectError
    from facedetect_cli.observe.pipeline import check_image, is_local_emulator

    check_image(image)  # bad input stops before any AWS call
    app = r.app(StackConfig(stack=r.opts.stack))
    pipeline = app.pipeline()
    upload = pipeline.upload(image)
    where = f"s3://{upload.bucket}/{upload.key}"
    doc: dict[str, object] = {**app.header, "bucket": upload.bucket, "key": upload.key}
    local = r.opts.local or is_local_emulator(app.aws.connection.endpoint_url)
    if no_wait or local:
        if local:
            r.out.info(f"Uploaded to {where}. The local emulator stores the image but cannot run "
                       "the pipeline (it runs no Lambda code and has no Rekognition), so no "
                       "faces can be shown here; against AWS this command follows the execution "
                       "and prints them.")
        else:
            r.out.info(f"Uploaded to {where}.")
        if r.out.json:
            r.out.document({**doc, "status": "UPLOADED", "followed": False})
        return 0
    with render.spinner(r.out, f"Uploaded to {where}; waiting for the pipeline to start..."):
        arn = pipeline.find_execution(upload, timeout_s=timeout_s)
    if arn is None:
        raise FacedetectError(
            f"no execution started for {where} within {timeout_s}s; S3 takes about five "
            "minutes after `up` to start sending events, so try again, or check the rule "
            "with `facedetect status`")
    with render.spinner(r.out, "Detecting faces..."):
        execution = pipeline.follow(arn, timeout_s=timeout_s)
    detection = execution.detection
    doc.update({"execution": arn, "status": execution.status, "faceCount":
                detection.get("faceCount"), "faces": detection.get("faces", []),
                "error": execution.error or None, "cause": execution.cause or None})
    if r.out.json:
        r.out.document(doc)
    if execution.status != "SUCCEEDED":
        r.out.error(f"the pipeline failed for {where}: {execution.error}: {execution.cause}")
        return 1
    if not r.out.json and not r.out.quiet:
        count = detection.get("faceCount", 0)
        render.faces(r.out, f"{count} face(s) in {where}", detection.get("faces", []))
    return 0
