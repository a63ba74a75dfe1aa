"""SNS topics (results, failures) and their e-mail subscriptions."""

from __future__ import annotations

from typing import Any

from facedetect_cli.aws.parallel import parallel
from facedetect_cli.engine.config import same_address
from facedetect_cli.engine.naming import Names
from facedetect_cli.engine.resources.base import (
    Context,
    Observed,
    Resource,
    owned_by,
    tag_dict,
    tag_list,
)
from facedetect_cli.errors import AwsError

PENDING = "PendingConfirmation"
# What ListSubscriptionsByTopic shows, for a while, in place of the ARN of a subscription the
# recipient cancelled (the "unsubscribe" link of every message): it no longer delivers, and
# cannot be unsubscribed again. Absent, then: status says so and `up` subscribes again.
UNSUBSCRIBED = "Deleted"


def _read_topic(ctx: Context, arn: str) -> dict[str, Any] | None:
    """Tags and subscriptions of a topic, or None when it does not exist; shared through the
    context's memo by the topic and each of its subscriptions."""
    sns = ctx.client("sns")
    try:
        sns.get_topic_attributes(TopicArn=arn)
    except AwsError as error:
        if error.code in ("NotFound", "NotFoundException"):
            return None
        raise
    # Both at once: neither depends on the other, and the topic is known to exist.
    tags, subscriptions = parallel(
        lambda: tag_dict(sns.list_tags_for_resource(ResourceArn=arn).get("Tags")),
        lambda: [subscription
                 for page in sns.pages("list_subscriptions_by_topic", TopicArn=arn)
                 for subscription in page.get("Subscriptions", [])
                 if subscription.get("SubscriptionArn") != UNSUBSCRIBED],
    )
    return {"tags": tags, "subscriptions": subscriptions}


class Topic(Resource):
    kind = "topic"

    def __init__(self, names: Names, topic: str, emails: tuple[str, ...]) -> None:
        super().__init__(topic, names.topic_arn(topic))
        self.names = names
        self.emails = emails

    def read(self, ctx: Context, *, settings: bool = True) -> Observed | None:
        found = ctx.memo(("topic", self.arn), lambda: _read_topic(ctx, self.arn))
        if found is None:
            return None
        subscriptions = found["subscriptions"]
        pending = sum(1 for s in subscriptions if s["SubscriptionArn"] == PENDING)
        detail = f"{len(subscriptions)} subscription(s)"
        if pending:
            detail += f", {pending} pending confirmation"
        return Observed(self.arn, owned=owned_by(found["tags"], self.names), detail=detail,
                        attrs={"subscriptions": subscriptions})

    def create(self, ctx: Context) -> None:
        ctx.client("sns").create_topic(Name=self.name, Tags=tag_list(self.names.tags))

    def delete(self, ctx: Context, observed: Observed) -> None:
        # DeleteTopic also removes every subscription, confirmed or pending.
        ctx.client("sns").delete_topic(TopicArn=self.arn)

    def discovered(self, ctx: Context, observed: Observed) -> list[tuple[Resource, Observed]]:
        extra: list[tuple[Resource, Observed]] = []
        for subscription in observed.attrs["subscriptions"]:
            endpoint = subscription.get("Endpoint", "")
            if subscription.get("Protocol") != "email" or any(
                    same_address(endpoint, email) for email in self.emails):
                continue
            resource = Subscription(self.names, self.name, endpoint)
            extra.append((resource, resource.observed(subscription, owned=observed.owned)))
        return extra


class Subscription(Resource):
    """An e-mail subscription. Subscriptions carry no tags: one belongs to the stack when its
    topic does."""

    kind = "subscription"

    def __init__(self, names: Names, topic: str, email: str) -> None:
        self.topic = topic
        self.topic_arn = names.topic_arn(topic)
        super().__init__(email, self.topic_arn, depends_on=[f"topic:{topic}"])
        self.names = names
        self.removed_with = f"topic:{topic}"  # DeleteTopic removes its subscriptions

    @property
    def key(self) -> str:
        return f"subscription:{self.topic}:{self.name}"

    def observed(self, subscription: dict[str, Any], *, owned: bool) -> Observed:
        arn = subscription["SubscriptionArn"]
        pending = arn == PENDING
        return Observed(
            self.topic_arn if pending else arn,
            owned=owned,
            attrs={"subscription_arn": arn},
            detail=f"to {self.topic}" + (", pending confirmation" if pending else ", confirmed"),
        )

    def read(self, ctx: Context, *, settings: bool = True) -> Observed | None:
        found = ctx.memo(("topic", self.topic_arn), lambda: _read_topic(ctx, self.topic_arn))
        if found is None:
            return None
        for subscription in found["subscriptions"]:
            endpoint = str(subscription.get("Endpoint", ""))
            # D@Example.com is subscribed when d@example.com is: see config.same_address.
            if subscription.get("Protocol") == "email" and same_address(endpoint, self.name):
                return self.observed(subscription, owned=owned_by(found["tags"], self.names))
        return None

    def create(self, ctx: Context) -> None:
        ctx.client("sns").subscribe(
            TopicArn=self.topic_arn, Protocol="email", Endpoint=self.name,
            ReturnSubscriptionArn=True,
        )

    def delete(self, ctx: Context, observed: Observed) -> None:
        arn = observed.attrs["subscription_arn"]
        if arn == PENDING:
            return  # cannot be unsubscribed; it goes with the topic (or expires in 3 days)
        try:
            ctx.client("sns").unsubscribe(SubscriptionArn=arn)
        except AwsError as error:
            if error.code not in ("NotFound", "NotFoundException"):
                raise
