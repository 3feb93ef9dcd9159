"""Prepares moto_server as Vigil's AWS stand-in, with signature checking on.

Creates (once per moto process) IAM identities, then turns on moto's
authentication (`/moto-api/reset-auth`), then seeds the secrets Vigil reads.
Writes the identities' keys as shell exports to the file given. moto draws
the keys at random: seed it first (`POST /moto-api/seed?a=42`, as
scripts/services does) and a new moto process gets the same keys again.

  python3 scripts/moto-setup.py ENDPOINT KEYS_FILE PREFIX ENVIRONMENT DB_JSON REDIS_JSON [NO_AUTH_ALLOWANCE]

VIGIL_SEED_SECRETS, if set, is a JSON object of more secrets to seed, by
name under PREFIX/ENVIRONMENT (scripts/services seeds the SMTP server's
`email` credentials so).

NO_AUTH_ALLOWANCE (default 0) lets that many requests through unchecked after
auth is turned on: moto answers unsigned calls (STS AssumeRoleWithWebIdentity)
with a 500 once checking is on, so the web identity test allows exactly one.

Identities:
  vigil-admin  everything (tests use it to seed, rotate and create users)
  vigil-app    what Vigil needs: read secrets, PutMetricData; nothing else
  vigil-metrics  PutMetricData only (the CloudWatch publisher's test)
  vigil-irsa   a role for AssumeRoleWithWebIdentity, allowed to read secrets
"""
import json, os, sys, urllib.request
import boto3

endpoint, keys_file, prefix, environment, db_json, redis_json = sys.argv[1:7]
allowance = sys.argv[7] if len(sys.argv) > 7 else "0"
REGION = "us-east-1"


def client(service, key_id="testing", secret="testing"):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id=key_id, aws_secret_access_key=secret)


def policy(statements):
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def create_identities():
    iam = client("iam")
    keys = {}
    for user, actions in [("vigil-admin", ["*"]),
                          ("vigil-app", ["secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue",
                                         "secretsmanager:DescribeSecret", "secretsmanager:ListSecrets",
                                         "ssm:GetParameter", "kms:Decrypt",
                                         "cloudwatch:PutMetricData", "monitoring:PutMetricData"]),
                          ("vigil-metrics", ["cloudwatch:PutMetricData", "monitoring:PutMetricData"])]:
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName=f"{user}-policy",
                            PolicyDocument=policy([{"Effect": "Allow", "Action": actions, "Resource": "*"}]))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        keys[user] = (key["AccessKeyId"], key["SecretAccessKey"])
    trust = policy([{"Effect": "Allow", "Principal": {"Federated": "oidc.example.com"},
                     "Action": "sts:AssumeRoleWithWebIdentity"}])
    role = iam.create_role(RoleName="vigil-irsa", AssumeRolePolicyDocument=trust)["Role"]
    iam.put_role_policy(RoleName="vigil-irsa", PolicyName="read-secrets", PolicyDocument=policy(
        [{"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret",
                                        "secretsmanager:BatchGetSecretValue"], "Resource": "*"}]))
    with open(keys_file, "w") as f:
        f.write(f"export VIGIL_TEST_AWS_ADMIN_KEY_ID={keys['vigil-admin'][0]} "
                f"VIGIL_TEST_AWS_ADMIN_SECRET={keys['vigil-admin'][1]}\n")
        f.write(f"export AWS_ACCESS_KEY_ID={keys['vigil-app'][0]} AWS_SECRET_ACCESS_KEY={keys['vigil-app'][1]}\n")
        f.write(f"export VIGIL_TEST_ROLE_ARN={role['Arn']}\n")
        f.write(f"export VIGIL_TEST_METRICS_KEY_ID={keys['vigil-metrics'][0]} "
                f"VIGIL_TEST_METRICS_SECRET={keys['vigil-metrics'][1]}\n")
    return keys


def admin_keys():
    with open(keys_file) as f:
        text = f.read()
    values = dict(part.split("=", 1) for line in text.splitlines() for part in line.split()[1:])
    return values["VIGIL_TEST_AWS_ADMIN_KEY_ID"], values["VIGIL_TEST_AWS_ADMIN_SECRET"]


def seed(key_id, secret):
    sm = client("secretsmanager", key_id, secret)
    extra = json.loads(os.environ.get("VIGIL_SEED_SECRETS", "{}"))
    for name, value in [("database/credentials", db_json), ("redis/credentials", redis_json)] + sorted(extra.items()):
        secret_id = f"{prefix}/{environment}/{name}"
        try:
            sm.create_secret(Name=secret_id, SecretString=value)
        except sm.exceptions.ResourceExistsException:
            if sm.get_secret_value(SecretId=secret_id)["SecretString"] != value:
                sm.put_secret_value(SecretId=secret_id, SecretString=value)


def enable_auth():
    request = urllib.request.Request(endpoint + "/moto-api/reset-auth", data=allowance.encode(),
                                     headers={"Content-Type": "text/plain"}, method="POST")
    urllib.request.urlopen(request, timeout=10).read()


if os.path.exists(keys_file):  # this moto already checks signatures
    seed(*admin_keys())
else:
    create_identities()
    seed("testing", "testing")
    enable_auth()
