"""Checks, with SAM's own translator, which deploys publish new function versions behind the
alias `live` (the API calls the alias, so a deploy that publishes none changes nothing live):
SAM names a version after the code and the template's text, so a parameter change alone
publishes nothing, and a fresh DeployRevision always does."""

import json
import os

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
with open("template.yaml") as f:
    TEMPLATE = yaml_parse(f.read())
FUNCTIONS = [name for name, resource in TEMPLATE["Resources"].items()
             if resource["Type"] == "AWS::Serverless::Function"]
for name in FUNCTIONS:
    TEMPLATE["Resources"][name]["Properties"]["CodeUri"] = f"s3://bucket/{name}.zip"

BASE = {"AllowedCountries": "US", "PlivoAuthId": "id", "PlivoAuthToken": "token",
        "PlivoSenderId": "+14155550100"}


def versions(**params):
    out = transform(json.loads(json.dumps(TEMPLATE)), dict(BASE, **params), None)
    return sorted(k for k, v in out["Resources"].items() if v["Type"] == "AWS::Lambda::Version")


default = versions()
assert len(default) == len(FUNCTIONS) >= 3, (default, FUNCTIONS)
assert versions(AllowedCountries="US,CA") == default, "SAM now hashes parameters: simplify DeployRevision"
fresh = versions(DeployRevision="0123456789abcdef")
assert set(fresh).isdisjoint(default), (fresh, default)
assert set(versions(DeployRevision="fedcba9876543210")).isdisjoint(fresh)
print(f"versions: a fresh DeployRevision publishes all {len(FUNCTIONS)} functions; parameters alone do not")
