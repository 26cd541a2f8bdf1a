"""Blue/green validation hook: request the new version through the test listener and report.

Runs as a Lambda function (standard library and boto3 only) whose source is embedded inline
in the service template. ``check`` is the engine-neutral core; each handler adapts it to one
engine's hook contract:

- ``codedeploy_handler``: CodeDeploy's AfterAllowTestTraffic hook, for the codedeploy engine and
  for the cloudformation engine (the AWS::CodeDeployBlueGreen transform runs a CodeDeploy
  deployment, so CodeDeploy invokes the hook with the same event and expects the same report);
- ``ecs_handler``: an ECS blue/green lifecycle hook (POST_TEST_TRAFFIC_SHIFT), which answers in
  its return value instead of calling an API.
"""
import json
import logging
import os
import ssl
import time
import urllib.error
import urllib.request

log = logging.getLogger()
log.setLevel(logging.INFO)
RETRY_DELAY_SECONDS = 2  # times the attempt number
REPORT_SECONDS = 10  # of the invocation's time, kept for the report (a timed-out function sends none)


def check(base_url, paths, expected_status, body_substring=None, timeout=5.0, retries=3, host=None):
    """GET base_url + each path until it answers as expected or ``retries`` attempts fail.

    Returns {"passed": bool, "checks": [{"path", "passed", "status", "error", "attempts"}]}.
    """
    # The test listener is reached at a private address while its certificate names the public
    # domain, so TLS is used without name verification: this checks the application.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    checks = []
    for path in paths:
        entry = {"path": path, "passed": False, "status": None, "error": None, "attempts": 0}
        for attempt in range(1, retries + 1):
            entry["attempts"] = attempt
            request = urllib.request.Request(base_url + path, headers={"Host": host} if host else {})
            try:
                with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
                    status, body = response.status, response.read(65536)
            except urllib.error.HTTPError as error:
                status, body = error.code, error.read(65536)
            except Exception as error:  # timeouts, refused connections, TLS and DNS failures
                status, body = None, b""
                entry["error"] = "%s: %s" % (type(error).__name__, error)
            entry["status"] = status
            if status is not None:
                if status != expected_status:
                    entry["error"] = "status %d, expected %d" % (status, expected_status)
                elif body_substring and body_substring not in body.decode("utf-8", "replace"):
                    entry["error"] = "body does not contain %r" % body_substring
                else:
                    entry["passed"], entry["error"] = True, None
                    break
            log.info("attempt %d of %s: %s", attempt, path, entry["error"])
            if attempt < retries:
                time.sleep(RETRY_DELAY_SECONDS * attempt)
        checks.append(entry)
        log.info("checked %s", json.dumps(entry))
    return {"passed": all(c["passed"] for c in checks), "checks": checks}


def settings(environ=os.environ):
    return {
        "scheme": environ["SCHEME"],
        "port": int(environ["TEST_PORT"]),
        "load_balancer": environ["LOAD_BALANCER_NAME"],
        # A service routed by host name on a shared listener is reached under its own name.
        "host": environ.get("HOST_HEADER") or environ["LOAD_BALANCER_DNS"],
        "paths": json.loads(environ["PATHS"]),
        "expected_status": int(environ["EXPECTED_STATUS"]),
        "body_substring": environ.get("BODY_CONTAINS") or None,
        "timeout": float(environ.get("TIMEOUT_SECONDS", "5")),
        "retries": int(environ.get("RETRIES", "3")),
    }


def run_check(conf, ec2, context=None):
    """Find the private addresses of the load balancer and run ``check`` through its test listener.

    The hook runs in the VPC, and the load balancer's security group admits the hook's group on
    the test port; that works only on private addresses, which its network interfaces carry (one
    per zone). An address that answers nothing at all (a node being replaced, a zone's network
    down) is skipped for the next while the Lambda ``context`` has time for its whole check; an
    answer, good or bad, is the application's verdict.
    """
    found = ec2.describe_network_interfaces(
        Filters=[{"Name": "description", "Values": ["ELB " + conf["load_balancer"]]}])
    addresses = sorted(i["PrivateIpAddress"] for i in found["NetworkInterfaces"])
    if not addresses:
        raise RuntimeError("no network interface found for load balancer " + conf["load_balancer"])
    retries = conf["retries"]
    longest = len(conf["paths"]) * (retries * conf["timeout"] + RETRY_DELAY_SECONDS * retries * (retries - 1) / 2)
    result = None
    for address in addresses:
        if result and context and context.get_remaining_time_in_millis() < (longest + REPORT_SECONDS) * 1000:
            break
        base_url = "%s://%s:%d" % (conf["scheme"], address, conf["port"])
        result = check(base_url, conf["paths"], conf["expected_status"], conf["body_substring"],
                       conf["timeout"], conf["retries"], host=conf["host"])
        result["address"] = address
        if result["passed"] or any(c["status"] is not None for c in result["checks"]):
            return result
        log.info("no answer from %s, trying the next address of the load balancer", address)
    return result


def codedeploy_handler(event, context, codedeploy=None, ec2=None, environ=None):
    """CodeDeploy lifecycle hook: always report Succeeded or Failed, never leave it waiting."""
    import boto3

    deployment, execution = event["DeploymentId"], event["LifecycleEventHookExecutionId"]
    status = "Failed"
    try:
        result = run_check(settings(environ or os.environ), ec2 or boto3.client("ec2"), context)
        status = "Succeeded" if result["passed"] else "Failed"
    except Exception:
        log.exception("validation of deployment %s could not run", deployment)
    log.info("deployment %s: reporting %s", deployment, status)
    # If this call fails the exception propagates: Lambda retries the asynchronous invocation.
    (codedeploy or boto3.client("codedeploy")).put_lifecycle_event_hook_execution_status(
        deploymentId=deployment, lifecycleEventHookExecutionId=execution, status=status)
    return {"status": status}


def ecs_handler(event, context, ec2=None, environ=None):
    """ECS lifecycle hook: return {"hookStatus": "SUCCEEDED" | "FAILED"}.

    ECS invokes the function synchronously with the deployment's state (serviceArn,
    targetServiceRevisionArn, testTrafficWeights, productionTrafficWeights) and reads hookStatus
    from the result; FAILED rolls the deployment back. IN_PROGRESS (ECS calls again later) is
    never returned: the check finishes within one invocation. Any error reports FAILED.
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/lambda-lifecycle-hooks.html
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-lifecycle-hooks.html
    """
    revision = event.get("targetServiceRevisionArn", "(unknown revision)")
    log.info("revision %s, test traffic %s", revision, json.dumps(event.get("testTrafficWeights")))
    status = "FAILED"
    try:
        if ec2 is None:
            import boto3

            ec2 = boto3.client("ec2")
        result = run_check(settings(environ or os.environ), ec2, context)
        status = "SUCCEEDED" if result["passed"] else "FAILED"
    except Exception:
        log.exception("validation of revision %s could not run", revision)
    log.info("revision %s: reporting %s", revision, status)
    return {"hookStatus": status}
