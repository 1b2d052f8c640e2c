"""The optional dashboard host: `lakebox serve` on an Amazon Linux 2023 EC2 instance.

Every resource here carries the ``WithDashboardHost`` condition (parameter ``CreateDashboardHost``): the
instance, its instance profile (wrapping the DashboardRole from :mod:`lakebox.deploy.iam`), its security group
(the dashboard port open to one CIDR only) and the access token kept in Secrets Manager.
"""

from __future__ import annotations

from lakebox.deploy.intrinsics import BUCKET_NAME, Json, get_att, ref, sub


def user_data() -> str:
    """The instance's boot script (a ``Fn::Sub`` template): install lakebox, write its environment with the
    token read from Secrets Manager, and run ``lakebox serve`` as a hardened systemd service."""
    return "\n".join([
        "#!/bin/bash",
        "set -euo pipefail",
        "dnf install -y python3.12 python3.12-pip",
        "python3.12 -m venv /opt/lakebox",
        "SPEC='${LakeboxPipSpec}'",
        'if [[ "$SPEC" == s3://* ]]; then aws s3 cp "$SPEC" /opt/ && SPEC="/opt/$(basename "$SPEC")"; fi',
        '/opt/lakebox/bin/pip install "$SPEC"',
        "useradd --system --home-dir /var/lib/lakebox --create-home lakebox || true",
        "install -d -m 0750 -o root -g lakebox /etc/lakebox",
        # The token never appears in the template, the stack's parameters or the user data: it is read
        # from Secrets Manager at boot into a root-owned file only the service can read.
        "TOKEN=$(aws secretsmanager get-secret-value --region ${AWS::Region} --secret-id ${DashboardToken} "
        "--query SecretString --output text)",
        "umask 027",
        "cat > /etc/lakebox/env <<EOF",
        "LAKEBOX_LAKE=s3://${ResolvedBucket}",
        "LAKEBOX_ENGINE=athena",
        "LAKEBOX_CATALOG=glue",
        "LAKEBOX_WORKGROUP=${AWS::StackName}",
        "LAKEBOX_DATABASE=${DatabaseName}",
        "LAKEBOX_REGION=${AWS::Region}",
        "LAKEBOX_HOST=0.0.0.0",
        "LAKEBOX_PORT=${DashboardPort}",
        "LAKEBOX_TOKEN=$TOKEN",
        "EOF",
        "chgrp lakebox /etc/lakebox/env",
        "cat > /etc/systemd/system/lakebox.service <<'EOF'",
        "[Unit]",
        "Description=lakebox dashboard",
        "After=network-online.target",
        "Wants=network-online.target",
        "[Service]",
        "User=lakebox",
        "EnvironmentFile=/etc/lakebox/env",
        "ExecStart=/opt/lakebox/bin/lakebox serve",
        "Restart=on-failure",
        "NoNewPrivileges=true",
        "ProtectSystem=strict",
        "ProtectHome=true",
        "PrivateTmp=true",
        "[Install]",
        "WantedBy=multi-user.target",
        "EOF",
        "systemctl daemon-reload",
        "systemctl enable --now lakebox.service",
        "",
    ])


def dashboard_host() -> Json:
    """DashboardToken, DashboardInstanceProfile, DashboardSecurityGroup and DashboardInstance."""
    return {
        "DashboardToken": {
            "Type": "AWS::SecretsManager::Secret",
            "Condition": "WithDashboardHost",
            "Properties": {
                "Description": "lakebox dashboard access token",
                "GenerateSecretString": {"PasswordLength": 40, "ExcludePunctuation": True},
            },
        },
        "DashboardInstanceProfile": {
            "Type": "AWS::IAM::InstanceProfile",
            "Condition": "WithDashboardHost",
            "Properties": {"Roles": [ref("DashboardRole")]},
        },
        "DashboardSecurityGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Condition": "WithDashboardHost",
            "Properties": {
                "GroupDescription": "lakebox dashboard: one port, one CIDR",
                "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": ref("DashboardPort"),
                                          "ToPort": ref("DashboardPort"), "CidrIp": ref("DashboardCidr"),
                                          "Description": "lakebox serve"}],
            },
        },
        "DashboardInstance": {
            "Type": "AWS::EC2::Instance",
            "Condition": "WithDashboardHost",
            "Properties": {
                "ImageId": ref("DashboardImageId"),
                "InstanceType": ref("DashboardInstanceType"),
                "IamInstanceProfile": ref("DashboardInstanceProfile"),
                "SecurityGroupIds": [get_att("DashboardSecurityGroup", "GroupId")],
                "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
                "BlockDeviceMappings": [{"DeviceName": "/dev/xvda",
                                         "Ebs": {"VolumeSize": 20, "VolumeType": "gp3", "Encrypted": True}}],
                "UserData": {"Fn::Base64": {"Fn::Sub": [user_data(), {"ResolvedBucket": BUCKET_NAME}]}},
                "Tags": [{"Key": "Name", "Value": sub("${AWS::StackName}-dashboard")}],
            },
        },
    }
