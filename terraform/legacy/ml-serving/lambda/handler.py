def handler(event, context):
    body = event.get("body") or ""
    return {"statusCode": 200, "body": body.strip().lower()}
