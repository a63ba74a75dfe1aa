"""The tutorial's manual path: one `aws` CLI process per step, against the same emulator."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from common import ACCOUNT, EMAIL, HANDLERS, REGION, tail, timed

from facedetect_cli.build.assets import Assets


# --- the tutorial's manual path -------------------------------------------------------------
@dataclass
class Step:
    label: str
    argv: list[str]
    ok: tuple[int, ...] = (0,)


class ManualPath:
    """The tutorial's AWS CLI commands (/work/shared/seed/000_157002f8e7d720d8.txt), one `aws`
    process per step, with inputs that succeed: moto's account, one bucket name, an example.com
    address, zips of the project's handlers, and the tutorial's JSON documents in files."""

    def __init__(self, aws: str, url: str, workdir: Path) -> None:
        self.aws = aws
        self.url = url
        self.dir = workdir / "manual"
        self.dir.mkdir(exist_ok=True)
        self.bucket = f"face-detection-images-{ACCOUNT}"
        self._write_files()

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"

    def _write_files(self) -> None:
        assets = Assets()
        for module in HANDLERS:
            (self.dir / f"{module}.zip").write_bytes(assets.handler_zip(module))
        # The tutorial's state machine and its Step Functions policy, with the account filled in.
        definition = {
            "Comment": "Face Recognition State Machine",
            "StartAt": "Detect Faces",
            "States": {
                "Detect Faces": {"Type": "Task", "Next": "Store Metadata",
                                 "Resource": self._arn("lambda", "function:DetectFacesLambda")},
                "Store Metadata": {"Type": "Task", "Next": "Send Notification",
                                   "Resource": self._arn("lambda",
                                                         "function:StoreMetadataLambda")},
                "Send Notification": {"Type": "Task", "End": True,
                                      "Resource": self._arn("lambda",
                                                            "function:SendNotificationLambda")},
            },
        }
        stepfunction_policy = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": "*"},
            {"Effect": "Allow", "Action": ["dynamodb:PutItem"],
             "Resource": self._arn("dynamodb", "table/FaceMetadataTable")},
            {"Effect": "Allow", "Action": ["sns:Publish"],
             "Resource": self._arn("sns", "FaceDetectionResults")},
        ]}
        # Not in the tutorial: what its EventBridgeExecutionRole needs to start the workflow.
        eventbridge_policy = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["states:StartExecution"],
             "Resource": self._arn("states", "stateMachine:FaceRecognitionWorkflow")},
        ]}
        rule = {"source": ["aws.s3"], "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {"eventSource": ["s3.amazonaws.com"], "eventName": ["PutObject"],
                           "requestParameters": {"bucketName": [self.bucket]}}}
        for name, document in (("state-machine.json", definition),
                               ("stepfunction-iam-policy.json", stepfunction_policy),
                               ("eventbridge-iam-policy.json", eventbridge_policy),
                               ("event-rule.json", rule)):
            (self.dir / name).write_text(json.dumps(document, indent=2))

    def _aws(self, label: str, *args: str, ok: tuple[int, ...] = (0,)) -> Step:
        return Step(label, [self.aws, "--endpoint-url", self.url, *args], ok)

    @staticmethod
    def _trust(service: str) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})

    def up_steps(self) -> list[Step]:
        functions = {"detect_faces": "DetectFacesLambda", "store_metadata": "StoreMetadataLambda",
                     "send_notification": "SendNotificationLambda"}
        steps = [
            self._aws("s3api create-bucket", "s3api", "create-bucket", "--bucket", self.bucket,
                      "--region", REGION, "--create-bucket-configuration",
                      f"LocationConstraint={REGION}"),
            self._aws("dynamodb create-table", "dynamodb", "create-table",
                      "--table-name", "FaceMetadataTable",
                      "--attribute-definitions", "AttributeName=ImageKey,AttributeType=S",
                      "--key-schema", "AttributeName=ImageKey,KeyType=HASH",
                      "--billing-mode", "PAY_PER_REQUEST", "--region", REGION),
            self._aws("sns create-topic", "sns", "create-topic", "--name", "FaceDetectionResults",
                      "--region", REGION),
            self._aws("sns subscribe", "sns", "subscribe",
                      "--topic-arn", self._arn("sns", "FaceDetectionResults"),
                      "--protocol", "email", "--notification-endpoint", EMAIL,
                      "--region", REGION),
            self._aws("iam create-role LambdaExecutionRole", "iam", "create-role",
                      "--role-name", "LambdaExecutionRole",
                      "--assume-role-policy-document", self._trust("lambda.amazonaws.com"),
                      "--region", REGION),
            self._aws("iam attach-role-policy", "iam", "attach-role-policy",
                      "--role-name", "LambdaExecutionRole", "--policy-arn",
                      "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"),
            # The tutorial references these two roles but never creates them.
            self._aws("iam create-role StepFunctionExecutionRole*", "iam", "create-role",
                      "--role-name", "StepFunctionExecutionRole",
                      "--assume-role-policy-document", self._trust("states.amazonaws.com")),
            self._aws("iam put-role-policy stepfunction-iam-policy*", "iam", "put-role-policy",
                      "--role-name", "StepFunctionExecutionRole",
                      "--policy-name", "stepfunction-iam-policy", "--policy-document",
                      f"file://{self.dir / 'stepfunction-iam-policy.json'}"),
            self._aws("iam create-role EventBridgeExecutionRole*", "iam", "create-role",
                      "--role-name", "EventBridgeExecutionRole",
                      "--assume-role-policy-document", self._trust("events.amazonaws.com")),
            self._aws("iam put-role-policy eventbridge-iam-policy*", "iam", "put-role-policy",
                      "--role-name", "EventBridgeExecutionRole",
                      "--policy-name", "eventbridge-iam-policy", "--policy-document",
                      f"file://{self.dir / 'eventbridge-iam-policy.json'}"),
        ]
        steps += [
            self._aws(f"lambda create-function {name}", "lambda", "create-function",
                      "--function-name", name, "--runtime", "python3.13",
                      "--role", f"arn:aws:iam::{ACCOUNT}:role/LambdaExecutionRole",
                      "--handler", f"{module}.lambda_handler",
                      "--zip-file", f"fileb://{self.dir / (module + '.zip')}",
                      "--region", REGION)
            for module, name in functions.items()
        ]
        steps += [
            self._aws("stepfunctions create-state-machine", "stepfunctions",
                      "create-state-machine", "--name", "FaceRecognitionWorkflow",
                      "--definition", f"file://{self.dir / 'state-machine.json'}",
                      "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/StepFunctionExecutionRole",
                      "--region", REGION),
            self._aws("events put-rule", "events", "put-rule", "--name", "FaceDetectionTrigger",
                      "--event-pattern", f"file://{self.dir / 'event-rule.json'}",
                      "--region", REGION),
            self._aws("events put-targets", "events", "put-targets",
                      "--rule", "FaceDetectionTrigger", "--targets", json.dumps([{
                          "Arn": self._arn("states", "stateMachine:FaceRecognitionWorkflow"),
                          "Id": "StepFunctionTarget",
                          "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/EventBridgeExecutionRole",
                      }])),
        ]
        return steps

    def down_steps(self) -> list[Step]:
        """The tutorial's cleanup list, without the commands for what it never created
        (CheckFaceDuplicate/AddFaceToIndex/CreateThumbnail functions, the LambdaPolicy inline
        policy, the rider-photos collection, the ImageProcessingFailures topic)."""
        steps = [
            self._aws("stepfunctions delete-state-machine", "stepfunctions",
                      "delete-state-machine", "--state-machine-arn",
                      self._arn("states", "stateMachine:FaceRecognitionWorkflow")),
            self._aws("lambda list-functions", "lambda", "list-functions",
                      "--query", "Functions[*].FunctionName"),
        ]
        steps += [self._aws(f"lambda delete-function {name}", "lambda", "delete-function",
                            "--function-name", name)
                  for name in ("DetectFacesLambda", "StoreMetadataLambda",
                               "SendNotificationLambda")]
        steps += [
            self._aws("iam detach-role-policy", "iam", "detach-role-policy",
                      "--role-name", "LambdaExecutionRole", "--policy-arn",
                      "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"),
            self._aws("iam delete-role", "iam", "delete-role", "--role-name",
                      "LambdaExecutionRole"),
            # `aws s3 ls` exits 1 when it lists nothing.
            self._aws("s3 ls --recursive", "s3", "ls", f"s3://{self.bucket}", "--recursive",
                      ok=(0, 1)),
            self._aws("s3 rm --recursive", "s3", "rm", f"s3://{self.bucket}", "--recursive"),
            self._aws("s3 rb", "s3", "rb", f"s3://{self.bucket}"),
            self._aws("dynamodb delete-table", "dynamodb", "delete-table",
                      "--table-name", "FaceMetadataTable"),
        ]
        return steps

    def leftover_steps(self) -> list[Step]:
        """What the tutorial's cleanup leaves behind: the rule, its topic, two roles."""
        steps = [
            self._aws("events remove-targets", "events", "remove-targets",
                      "--rule", "FaceDetectionTrigger", "--ids", "StepFunctionTarget"),
            self._aws("events delete-rule", "events", "delete-rule", "--name",
                      "FaceDetectionTrigger"),
            self._aws("sns delete-topic FaceDetectionResults", "sns", "delete-topic",
                      "--topic-arn", self._arn("sns", "FaceDetectionResults")),
        ]
        for role, policy in (("StepFunctionExecutionRole", "stepfunction-iam-policy"),
                             ("EventBridgeExecutionRole", "eventbridge-iam-policy")):
            steps += [
                self._aws(f"iam delete-role-policy {policy}", "iam", "delete-role-policy",
                          "--role-name", role, "--policy-name", policy),
                self._aws(f"iam delete-role {role}", "iam", "delete-role", "--role-name", role),
            ]
        return steps

    def run(self, steps: list[Step], env: dict[str, str]) -> tuple[float, list[float]]:
        """Run the steps one after the other: the total wall time, and each step's."""
        started = time.perf_counter()
        walls = []
        for step in steps:
            done = timed(step.argv, env=env, cwd=self.dir)
            if done.returncode not in step.ok:
                raise RuntimeError(f"manual step `aws {step.label}` failed "
                                   f"({done.returncode}):\n{tail(done.stderr)}")
            walls.append(done.wall_s)
        return time.perf_counter() - started, walls


