"""``python -m tests.infra.moto_server``: the moto server, plus tags on Application Auto Scaling targets.

moto 5.2.5 (the newest release) does not implement ``ListTagsForResource`` / ``TagResource`` /
``UntagResource`` for Application Auto Scaling; the Terraform AWS provider reads the tags of every
``aws_appautoscaling_target`` after creating it and retries the resulting HTTP 500 for ever. This
launcher adds those three actions to moto's own response class (tags kept by moto's own tagging
service, including the ``Tags`` given at registration), then runs the stock ``moto.server`` main.
Nothing else of moto changes.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
from moto.server import main
from moto.utilities.tagging_service import TaggingService

TAGS = TaggingService()


def _tag_list(tags: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in (tags or {}).items()]


def _register_keeping_tags(
    original: Callable[[ApplicationAutoScalingResponse], str],
) -> Callable[[ApplicationAutoScalingResponse], str]:
    def register_scalable_target(self: ApplicationAutoScalingResponse) -> str:
        body = original(self)
        TAGS.tag_resource(json.loads(body)["ScalableTargetARN"], _tag_list(self._get_param("Tags")))
        return body

    return register_scalable_target


def list_tags_for_resource(self: ApplicationAutoScalingResponse) -> str:
    return json.dumps({"Tags": TAGS.get_tag_dict_for_resource(self._get_param("ResourceARN"))})


def tag_resource(self: ApplicationAutoScalingResponse) -> str:
    TAGS.tag_resource(self._get_param("ResourceARN"), _tag_list(self._get_param("Tags")))
    return "{}"


def untag_resource(self: ApplicationAutoScalingResponse) -> str:
    TAGS.untag_resource_using_names(self._get_param("ResourceARN"), self._get_param("TagKeys") or [])
    return "{}"


def install() -> None:
    """Add the tagging actions to moto's Application Auto Scaling responses."""
    response = ApplicationAutoScalingResponse
    response.register_scalable_target = _register_keeping_tags(response.register_scalable_target)  # type: ignore[method-assign]
    response.list_tags_for_resource = list_tags_for_resource  # type: ignore[attr-defined]
    response.tag_resource = tag_resource  # type: ignore[attr-defined]
    response.untag_resource = untag_resource  # type: ignore[attr-defined]


if __name__ == "__main__":
    install()
    main()
