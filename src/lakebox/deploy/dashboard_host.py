"""The optional dashboard host: `lakebox serve` on an Amazon Linux 2023 EC2 instance.

Every resource here carries the ``WithDashboardHost`` condition (parameter ``CreateDashboardHost``): the
instance, its instance profile (wrapping the DashboardRole from :mod:`lakebox.deploy.iam`), its security group
and the access token kept in Secrets Manager. With ``DashboardCertificateArn`` (condition ``WithHttps``) an
Application Load Balancer terminates TLS with that ACM certificate on 443 and is the only thing allowed to
reach the instance's port; without it the port is open to ``DashboardCidr`` only, over plain HTTP (by default
``127.0.0.1/32``, which reaches nobody: use Session Manager port forwarding).

The host installs exactly the wheel ``lakebox deploy up`` built and uploaded: the key is content-addressed,
the boot script checks the SHA-256 from the stack's parameters before installing it, and the dependency
versions come from the constraints file inside that wheel. It reports to CloudFormation (``cfn-signal``) only
after ``/healthz`` answers, so a host that never starts fails the stack instead of printing a dead URL. No key
pair and no SSH: shell access is through SSM Session Manager.
"""

from __future__ import annotations

from lakebox.deploy.intrinsics import BUCKET_NAME, Json, get_att, ref, sub

NO_VALUE = ref("AWS::NoValue")


def _if(condition: str, yes: object, no: object = NO_VALUE) -> Json:
    return {"Fn::If": [condition, yes, no]}


def user_data() -> str:
    """The instance's boot script (a ``Fn::Sub`` template: shell variables are written ``$NAME``)."""
    return "\n".join([
        "#!/bin/bash",
        "set -euo pipefail",
        "signal() { /opt/aws/bin/cfn-signal --exit-code \"$1\" --stack ${AWS::StackName} "
        "--resource DashboardInstance --region ${AWS::Region} || true; }",
        "trap 'signal 1' ERR",
        "dnf install -y python3.12 python3.12-pip aws-cfn-bootstrap",
        "python3.12 -m venv /opt/lakebox",
        "install -d -m 0755 /opt/lakebox-dist",
        'WHEEL="/opt/lakebox-dist/$(basename "${HostWheelKey}")"',
        # ExpectedBucketOwner: an artifacts bucket of another account is refused, not read.
        'aws s3api get-object --bucket ${CodeBucket} --key "${HostWheelKey}" '
        '--expected-bucket-owner ${AWS::AccountId} "$WHEEL" > /dev/null',
        'echo "${HostWheelSha256}  $WHEEL" | sha256sum --check --strict',
        "python3.12 -c 'import sys, zipfile; "
        "sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read(\"lakebox/deploy/constraints.txt\").decode())' "
        '"$WHEEL" > /opt/lakebox-dist/constraints.txt',
        '/opt/lakebox/bin/pip install --no-cache-dir --constraint /opt/lakebox-dist/constraints.txt "$WHEEL"',
        "id lakebox >/dev/null 2>&1 || useradd --system --home-dir /var/lib/lakebox --create-home lakebox",
        "install -d -m 0750 -o root -g lakebox /etc/lakebox",
        # The token never appears in the template, the stack's parameters or the user data: it is read
        # from Secrets Manager at boot into a root-owned file only the service's group can read.
        "TOKEN=$(aws secretsmanager get-secret-value --region ${AWS::Region} --secret-id ${DashboardToken} "
        "--query SecretString --output text)",
        "umask 027",
        "cat > /etc/lakebox/env <<EOF",
        "LAKEBOX_LAKE=s3://${ResolvedBucket}",
        "LAKEBOX_ENGINE=athena",
        "LAKEBOX_CATALOG=glue",
        "LAKEBOX_WORKGROUP=${AWS::StackName}",
        "LAKEBOX_DATABASE=${DatabaseName}",
        "LAKEBOX_TABLE_PREFIX=${TablePrefix}",
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
        # Tell CloudFormation only once the dashboard answers; otherwise the stack fails and rolls back.
        "for _ in $(seq 1 60); do",
        "  if curl -fsS -o /dev/null http://127.0.0.1:${DashboardPort}/healthz; then signal 0; exit 0; fi",
        "  sleep 5",
        "done",
        "signal 1",
        "",
    ])


def _instance_ingress() -> Json:
    """The instance's port: from the load balancer with HTTPS, else from the one CIDR."""
    return _if("WithHttps",
               {"IpProtocol": "tcp", "FromPort": ref("DashboardPort"), "ToPort": ref("DashboardPort"),
                "SourceSecurityGroupId": get_att("DashboardAlbSecurityGroup", "GroupId"),
                "Description": "lakebox serve, from the load balancer"},
               {"IpProtocol": "tcp", "FromPort": ref("DashboardPort"), "ToPort": ref("DashboardPort"),
                "CidrIp": ref("DashboardCidr"), "Description": "lakebox serve"})


def dashboard_host() -> Json:
    """DashboardToken, DashboardInstanceProfile, DashboardSecurityGroup, DashboardInstance and, with HTTPS,
    the load balancer, its security group, target group and listener."""
    vpc = _if("DefaultDashboardVpc", NO_VALUE, ref("DashboardVpcId"))
    return {
        "DashboardToken": {
            "Type": "AWS::SecretsManager::Secret",
            "Condition": "WithDashboardHost",
            # The token is regenerated with the host; nothing else depends on it.
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
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
                "GroupDescription": "lakebox dashboard: one port, from one CIDR or the load balancer",
                "VpcId": vpc,
                "SecurityGroupIngress": [_instance_ingress()],
            },
        },
        "DashboardInstance": {
            "Type": "AWS::EC2::Instance",
            "Condition": "WithDashboardHost",
            "CreationPolicy": {"ResourceSignal": {"Count": 1, "Timeout": "PT20M"}},
            "Properties": {
                "ImageId": ref("DashboardImageId"),
                "InstanceType": ref("DashboardInstanceType"),
                "IamInstanceProfile": ref("DashboardInstanceProfile"),
                "SubnetId": _if("DefaultDashboardSubnet", NO_VALUE, ref("DashboardSubnetId")),
                "SecurityGroupIds": [get_att("DashboardSecurityGroup", "GroupId")],
                "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
                "BlockDeviceMappings": [{"DeviceName": "/dev/xvda",
                                         "Ebs": {"VolumeSize": 20, "VolumeType": "gp3", "Encrypted": True}}],
                "UserData": {"Fn::Base64": {"Fn::Sub": [user_data(), {"ResolvedBucket": BUCKET_NAME}]}},
                "Tags": [{"Key": "Name", "Value": sub("${AWS::StackName}-dashboard")}],
            },
        },
        "DashboardAlbSecurityGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Condition": "WithHttps",
            "Properties": {
                "GroupDescription": "lakebox dashboard load balancer: HTTPS from one CIDR",
                "VpcId": ref("DashboardVpcId"),
                "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                                          "CidrIp": ref("DashboardCidr"), "Description": "HTTPS"}],
            },
        },
        "DashboardLoadBalancer": {
            "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "Condition": "WithHttps",
            "Properties": {
                "Scheme": "internet-facing",
                "Subnets": ref("DashboardAlbSubnetIds"),
                "SecurityGroups": [get_att("DashboardAlbSecurityGroup", "GroupId")],
                "LoadBalancerAttributes": [{"Key": "routing.http.drop_invalid_header_fields.enabled",
                                            "Value": "true"}],
            },
        },
        "DashboardTargetGroup": {
            "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
            "Condition": "WithHttps",
            "Properties": {
                "Protocol": "HTTP", "Port": ref("DashboardPort"), "VpcId": ref("DashboardVpcId"),
                "TargetType": "instance", "Targets": [{"Id": ref("DashboardInstance")}],
                "HealthCheckPath": "/healthz",
            },
        },
        "DashboardListener": {
            "Type": "AWS::ElasticLoadBalancingV2::Listener",
            "Condition": "WithHttps",
            "Properties": {
                "LoadBalancerArn": ref("DashboardLoadBalancer"), "Port": 443, "Protocol": "HTTPS",
                "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
                "Certificates": [{"CertificateArn": ref("DashboardCertificateArn")}],
                "DefaultActions": [{"Type": "forward", "TargetGroupArn": ref("DashboardTargetGroup")}],
            },
        },
    }
