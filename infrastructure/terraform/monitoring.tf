# Logs, alerts, alarms and the dashboard. Every alarm notifies the alerts topic (and the optional
# e-mail subscription) when it fires and when it recovers.

resource "aws_cloudwatch_log_group" "api" {
  name              = "/ecs/hokusai/api/${var.environment}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_cloudwatch_log_group" "mlflow" {
  name              = "/ecs/hokusai/mlflow/${var.environment}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_sns_topic" "alerts" {
  name              = "${local.name}-alerts"
  kms_master_key_id = aws_kms_key.main.arn
}

data "aws_iam_policy_document" "alerts" {
  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alerts" {
  arn    = aws_sns_topic.alerts.arn
  policy = data.aws_iam_policy_document.alerts.json
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# ---------------------------------------------------------------------------------------------
# Alarms (names listed in the operator guide)
# ---------------------------------------------------------------------------------------------

locals {
  alarm_names = {
    api_unhealthy_hosts = "${local.name}-api-unhealthy-hosts"
    api_5xx_rate        = "${local.name}-api-5xx-rate"
    api_tasks           = "${local.name}-api-tasks-below-desired"
    mlflow_tasks        = "${local.name}-mlflow-tasks-below-desired"
    db_high_cpu         = "${local.name}-rds-high-cpu"
  }

  alb_dimensions = {
    LoadBalancer = aws_lb.public.arn_suffix
    TargetGroup  = aws_lb_target_group.api.arn_suffix
  }

  service_alarms = {
    api_tasks    = aws_ecs_service.api.name
    mlflow_tasks = aws_ecs_service.mlflow.name
  }
}

resource "aws_cloudwatch_metric_alarm" "api_unhealthy_hosts" {
  alarm_name          = local.alarm_names.api_unhealthy_hosts
  alarm_description   = "At least one API task fails the load balancer health check (/health) for 3 minutes."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = local.alb_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "api_5xx_rate" {
  alarm_name          = local.alarm_names.api_5xx_rate
  alarm_description   = "More than ${var.alarm_5xx_rate_percent}% of API requests answered 5xx (API or load balancer) over 5 minutes."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_5xx_rate_percent
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]

  metric_query {
    id          = "rate"
    expression  = "IF(requests > 0, 100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests, 0)"
    label       = "5xx percent"
    return_data = true
  }

  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = { LoadBalancer = aws_lb.public.arn_suffix }
      stat        = "Sum"
      period      = 300
    }
  }

  metric_query {
    id = "target5xx"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = { LoadBalancer = aws_lb.public.arn_suffix }
      stat        = "Sum"
      period      = 300
    }
  }

  metric_query {
    id = "elb5xx"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      dimensions  = { LoadBalancer = aws_lb.public.arn_suffix }
      stat        = "Sum"
      period      = 300
    }
  }
}

# Container Insights reports desired and running task counts per service.
resource "aws_cloudwatch_metric_alarm" "tasks_below_desired" {
  for_each = local.service_alarms

  alarm_name          = local.alarm_names[each.key]
  alarm_description   = "Service ${each.value} runs fewer tasks than desired for 5 minutes (tasks failing to start or crashing)."
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 5
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]

  metric_query {
    id          = "missing"
    expression  = "desired - running"
    label       = "Tasks missing"
    return_data = true
  }

  metric_query {
    id = "desired"
    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "DesiredTaskCount"
      dimensions  = { ClusterName = aws_ecs_cluster.main.name, ServiceName = each.value }
      stat        = "Minimum"
      period      = 60
    }
  }

  metric_query {
    id = "running"
    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "RunningTaskCount"
      dimensions  = { ClusterName = aws_ecs_cluster.main.name, ServiceName = each.value }
      stat        = "Minimum"
      period      = 60
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "db_high_cpu" {
  alarm_name          = local.alarm_names.db_high_cpu
  alarm_description   = "Database CPU above ${var.alarm_db_cpu_percent}% for 15 minutes."
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  dimensions          = { DBInstanceIdentifier = aws_db_instance.main.identifier }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_db_cpu_percent
  treat_missing_data  = "missing"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

# ---------------------------------------------------------------------------------------------
# Dashboard
# ---------------------------------------------------------------------------------------------

locals {
  dashboard_name = local.name

  dashboard_widgets = [
    {
      title   = "API requests"
      metrics = [["AWS/ApplicationELB", "RequestCount", "LoadBalancer", aws_lb.public.arn_suffix, { stat = "Sum" }]]
    },
    {
      title = "API latency (seconds)"
      metrics = [
        ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", aws_lb.public.arn_suffix, { stat = "p50", label = "p50" }],
        ["...", { stat = "p95", label = "p95" }],
        ["...", { stat = "p99", label = "p99" }],
      ]
    },
    {
      title = "5xx responses"
      metrics = [
        ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", aws_lb.public.arn_suffix, { stat = "Sum", label = "API 5xx" }],
        [".", "HTTPCode_ELB_5XX_Count", ".", ".", { stat = "Sum", label = "load balancer 5xx" }],
      ]
    },
    {
      title = "ECS CPU (%)"
      metrics = [
        ["AWS/ECS", "CPUUtilization", "ClusterName", aws_ecs_cluster.main.name, "ServiceName", aws_ecs_service.api.name, { label = "API" }],
        ["...", aws_ecs_service.mlflow.name, { label = "MLflow" }],
      ]
    },
    {
      title = "ECS memory (%)"
      metrics = [
        ["AWS/ECS", "MemoryUtilization", "ClusterName", aws_ecs_cluster.main.name, "ServiceName", aws_ecs_service.api.name, { label = "API" }],
        ["...", aws_ecs_service.mlflow.name, { label = "MLflow" }],
      ]
    },
    {
      title   = "RDS CPU (%)"
      metrics = [["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", aws_db_instance.main.identifier]]
    },
    {
      title   = "RDS connections"
      metrics = [["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", aws_db_instance.main.identifier]]
    },
  ]
}

resource "aws_cloudwatch_dashboard" "main" {
  dashboard_name = local.dashboard_name
  dashboard_body = jsonencode({
    widgets = [
      for index, widget in local.dashboard_widgets : {
        type   = "metric"
        x      = (index % 2) * 12
        y      = floor(index / 2) * 6
        width  = 12
        height = 6
        properties = {
          title   = widget.title
          metrics = widget.metrics
          region  = var.aws_region
          view    = "timeSeries"
          stacked = false
          period  = 60
        }
      }
    ]
  })
}
