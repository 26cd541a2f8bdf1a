"""The shapes the blueprints' IAM roles are made of: a trust policy that lets one AWS service
assume the role, one inline policy of least-privilege statements, and iam:PassRole limited to
the service the role is passed to.
"""

from __future__ import annotations

from typing import Any

from awacs import iam as awsiam
from awacs.aws import Allow, Condition, PolicyDocument, Principal, Statement, StringEquals
from awacs.sts import AssumeRole
from troposphere import Ref, iam

POLICY_VERSION = "2012-10-17"


def trust(service: str, source_account: bool = True) -> PolicyDocument:
    """Trust policy letting ``service`` (e.g. "lambda.amazonaws.com") assume the role.

    ``source_account`` adds the confused-deputy guard: the service may assume the role only when
    it acts for this account (``aws:SourceAccount``), not when another account's use of the same
    service names this role. Leave it off only where AWS documents the trust policy without it
    and does not say the service sends the key: a condition on an absent key denies the
    assume-role (see engines/ecs.py).
    """
    guard = {"Condition": Condition(StringEquals({"aws:SourceAccount": Ref("AWS::AccountId")}))}
    return PolicyDocument(
        Version=POLICY_VERSION,
        Statement=[
            Statement(
                Effect=Allow,
                Principal=Principal("Service", service),
                Action=[AssumeRole],
                **(guard if source_account else {}),
            )
        ],
    )


def inline_policy(name: str, statements: list[Statement]) -> iam.Policy:
    """The role's one inline policy: its permissions live with the role in the same template,
    so a reviewer sees them in the same diff (no managed policy to look up)."""
    return iam.Policy(PolicyName=name, PolicyDocument=PolicyDocument(Version=POLICY_VERSION, Statement=statements))


def pass_role(role_arns: list, service: str) -> Statement:
    """iam:PassRole on exactly ``role_arns``, and only to ``service``: without the
    ``iam:PassedToService`` condition the holder could hand the roles to any service."""
    return Statement(
        Effect=Allow,
        Action=[awsiam.PassRole],
        Resource=role_arns,
        Condition=Condition(StringEquals({"iam:PassedToService": service})),
    )


def allow(actions: list[Any], resources: list[Any], **extra: Any) -> Statement:
    """One Allow statement: ``actions`` on ``resources`` (``extra``: a Condition, a Sid)."""
    return Statement(Effect=Allow, Action=actions, Resource=resources, **extra)
