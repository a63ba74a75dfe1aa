"""Lambda functions built from handlers/: code compared by CodeSha256, configuration by value."""

from __future__ import annotations

from typing import Any

from facedetect_cli.aws.retry import PROPAGATION, is_iam_propagation_error, retry_while
from facedetect_cli.engine.naming import Names
from facedetect_cli.engine.resources.base import Context, Observed, Resource, owned_by
from facedetect_cli.errors import AwsError, FacedetectError

# Rekognition on a 15 MB image can take seconds; the others are one small API call each.
SIZING = {
    "detect_faces": {"Timeout": 30, "MemorySize": 256},
    "store_metadata": {"Timeout": 10, "MemorySize": 128},
    "send_notification": {"Timeout": 10, "MemorySize": 128},
    "check_face_duplicate": {"Timeout": 30, "MemorySize": 256},
    "add_face_to_index": {"Timeout": 30, "MemorySize": 256},
    # Pillow decodes the whole image: a 15 MB JPEG can be 150 MB of pixels, and Lambda's CPU
    # share grows with memory.
    "create_thumbnail": {"Timeout": 60, "MemorySize": 1024},
}
_DEFAULT_SIZING = {"Timeout": 30, "MemorySize": 256}
_CONFIG_FIELDS = ("Runtime", "Handler", "Role", "Timeout", "MemorySize", "Environment",
                  "Description")


class Function(Resource):
    kind = "function"

    def __init__(self, names: Names, module: str, *, role: str, title: str,
                 environment: dict[str, str], depends_on: tuple[str, ...] = ()) -> None:
        # After its log group: a function invoked before the group exists would make one
        # itself, untagged and kept forever.
        super().__init__(names.function(module), names.function_arn(module),
                         depends_on=depends_on,
                         uses=[f"role:{role}", f"log-group:{names.function_log_group(module)}"])
        self.names = names
        self.module = module
        self.role_arn = names.role_arn(role)
        self.title = title
        self.environment = environment
        self._state_at_create: str | None = None

    def desired(self) -> dict[str, Any]:
        return {
            "Runtime": self.names.config.runtime,
            "Handler": f"{self.module}.lambda_handler",
            "Role": self.role_arn,
            "Environment": {"Variables": dict(sorted(self.environment.items()))},
            "Description": f"facedetect stack {self.names.stack}: {self.title}",
            **SIZING.get(self.module, _DEFAULT_SIZING),
        }

    def read(self, ctx: Context, *, settings: bool = True) -> Observed | None:
        try:
            found = ctx.client("lambda").get_function(FunctionName=self.name)
        except AwsError as error:
            if error.code == "ResourceNotFoundException":
                return None
            raise
        config = found["Configuration"]
        return Observed(
            config["FunctionArn"],
            owned=owned_by(function_tags(ctx, found), self.names),
            attrs={
                **{k: config.get(k) for k in _CONFIG_FIELDS},
                "Environment": {"Variables": dict(sorted(
                    (config.get("Environment") or {}).get("Variables", {}).items()))},
                "CodeSha256": config.get("CodeSha256"),
                "Architectures": config.get("Architectures") or ["x86_64"],
            },
            detail=f"{config.get('Runtime')}, {config.get('State', 'Active').lower()}",
        )

    def differences(self, ctx: Context, observed: Observed) -> dict[str, str]:
        found: dict[str, str] = {}
        attrs = observed.attrs
        for key, want in self.desired().items():
            if attrs.get(key) != want:
                label = "environment" if key == "Environment" else key.lower()
                found[key] = f"{label} differs"
        try:
            code = self._code_sha256(ctx)
        except FacedetectError as error:
            # A package that cannot be downloaded (no network): `status` still answers, and
            # `up` fails on the same error when it tries to update the code.
            found["code"] = f"code cannot be compared: {error}"
        else:
            if attrs["CodeSha256"] != code:
                found["code"] = "code changed"
        if attrs["Architectures"] != [self.names.config.architecture]:
            found["code"] = f"architecture is {attrs['Architectures'][0]}"
        return found

    def create(self, ctx: Context) -> None:
        lam = ctx.client("lambda")
        # Right after its role is created, Lambda cannot assume it yet (IAM propagation).
        created = retry_while(
            lambda: lam.create_function(
                FunctionName=self.name,
                Code={"ZipFile": self._code(ctx)},
                Architectures=[self.names.config.architecture],
                Tags=self.names.tags,
                Publish=False,
                **self.desired(),
            ),
            is_iam_propagation_error,
            ctx.sleep,
            PROPAGATION,
        )
        self._state_at_create = created.get("State")

    def settle(self, ctx: Context) -> None:
        # AWS answers Pending and the function turns Active seconds later; an answer of Active
        # (moto's) needs no poll.
        if self._state_at_create != "Active":
            # Every half second (for the same two minutes): the state machine, then the rule,
            # wait for this, and a poll every second made `up` notice up to a second late
            # (bench/aws_model.py).
            ctx.client("lambda").wait("function_active_v2", FunctionName=self.name, delay=0.5,
                                      max_attempts=240)

    def update(self, ctx: Context, observed: Observed, fields: set[str]) -> None:
        lam = ctx.client("lambda")
        desired = self.desired()
        config_fields = fields & set(desired)
        if config_fields:
            self._update(ctx, lambda: lam.update_function_configuration(
                FunctionName=self.name, **{k: desired[k] for k in config_fields}))
        if "code" in fields:
            self._update(ctx, lambda: lam.update_function_code(
                FunctionName=self.name,
                ZipFile=self._code(ctx),
                Architectures=[self.names.config.architecture],
            ))

    def _code(self, ctx: Context) -> bytes:
        # Packages a handler needs (Pillow) are built for this runtime and architecture.
        config = self.names.config
        return ctx.assets.handler_zip(self.module, config.runtime, config.architecture)

    def _code_sha256(self, ctx: Context) -> str:
        config = self.names.config
        return ctx.assets.handler_sha256(self.module, config.runtime, config.architecture)

    def _update(self, ctx: Context, call: Any) -> None:
        """One update, retried while a previous one (ours or someone's) is in progress or
        while a changed role propagates, then waited for: a second update during one in
        progress fails (ResourceConflictException)."""
        retry_while(
            call,
            lambda e: e.code == "ResourceConflictException" or is_iam_propagation_error(e),
            ctx.sleep,
            PROPAGATION,
        )
        ctx.client("lambda").wait("function_updated_v2", FunctionName=self.name)

    def delete(self, ctx: Context, observed: Observed) -> None:
        try:
            ctx.client("lambda").delete_function(FunctionName=self.name)
        except AwsError as error:
            if error.code != "ResourceNotFoundException":
                raise


def function_tags(ctx: Context, found: dict[str, Any]) -> dict[str, str]:
    """A function's tags from its GetFunction answer. GetFunction includes them only for a
    caller allowed lambda:ListTags, and answers TagsError instead otherwise (Lambda API
    Reference, GetFunction): an answer without them is asked again with ListTags, so a
    caller without that permission fails naming lambda:ListTags instead of taking the
    stack's own function for someone else's."""
    if found.get("Tags"):
        return dict(found["Tags"])
    arn = found["Configuration"]["FunctionArn"]
    return dict(ctx.client("lambda").list_tags(Resource=arn).get("Tags") or {})
