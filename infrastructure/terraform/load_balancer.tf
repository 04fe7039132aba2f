# Internet-facing ALB in front of the API. Listener rules send the API paths and the
# authenticated MLflow proxy paths (/mlflow, /mlflow/*) to the API target group (the API
# enforces authentication and proxies MLflow); anything else gets a 404 in the API's error
# shape. MLflow itself is never behind this load balancer.
#
# With var.certificate_arn: HTTPS listener serves, HTTP redirects to it.
# Without: the HTTP listener serves (no redirect to a listener that does not exist).

locals {
  https         = var.certificate_arn != null
  public_scheme = local.https ? "https" : "http"
  public_host   = coalesce(var.domain_name, aws_lb.public.dns_name)
  api_endpoint  = "${local.public_scheme}://${local.public_host}"

  not_found_body = jsonencode({ error = { code = "not_found", message = "Not Found", details = null } })

  # Path patterns of the two rules (an ALB rule takes at most 5 values).
  api_paths          = ["/api/*", "/health", "/ready", "/docs", "/openapi.json"]
  mlflow_proxy_paths = ["/mlflow", "/mlflow/*"]
}

resource "aws_lb" "public" {
  name               = local.name
  internal           = false
  load_balancer_type = "application"
  security_groups    = [aws_security_group.alb.id]
  subnets            = aws_subnet.public[*].id

  drop_invalid_header_fields = true
  enable_deletion_protection = local.deletion_protection
  # Long MLflow artifact transfers through the proxy.
  idle_timeout = 300

  tags = { Name = local.name }
}

resource "aws_lb_target_group" "api" {
  name                 = "${local.name}-api"
  port                 = local.api_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = aws_vpc.main.id
  deregistration_delay = 30

  health_check {
    path                = "/health"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.public.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = local.https ? "redirect" : "fixed-response"

    dynamic "redirect" {
      for_each = local.https ? [1] : []
      content {
        port        = "443"
        protocol    = "HTTPS"
        status_code = "HTTP_301"
      }
    }

    dynamic "fixed_response" {
      for_each = local.https ? [] : [1]
      content {
        content_type = "application/json"
        message_body = local.not_found_body
        status_code  = "404"
      }
    }
  }
}

resource "aws_lb_listener" "https" {
  count = local.https ? 1 : 0

  load_balancer_arn = aws_lb.public.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type = "fixed-response"

    fixed_response {
      content_type = "application/json"
      message_body = local.not_found_body
      status_code  = "404"
    }
  }
}

# Lower priority numbers are evaluated first.
resource "aws_lb_listener_rule" "this" {
  for_each = {
    mlflow_proxy = { priority = 10, paths = local.mlflow_proxy_paths }
    api          = { priority = 20, paths = local.api_paths }
  }

  listener_arn = local.https ? aws_lb_listener.https[0].arn : aws_lb_listener.http.arn
  priority     = each.value.priority

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }

  condition {
    path_pattern {
      values = each.value.paths
    }
  }

  tags = { Name = "${local.name}-${replace(each.key, "_", "-")}" }
}
