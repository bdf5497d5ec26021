"""The sandbox's ECS: service rollouts that progress, with real task processes.

A service is the simulator's from create_service on, whenever it is created (at `sandbox up`
or by a later `releasectl deploy`): its first deployment starts at once, and its tasks join the
load balancer of the target group its loadBalancers name.

update_service with a new task definition (or forceNewDeployment) starts a new PRIMARY
deployment, IN_PROGRESS, and the update_service response already lists it; the previous
PRIMARY becomes ACTIVE. A scheduler thread then does what ECS's service scheduler does, with
the service's deploymentConfiguration (default minimumHealthyPercent 100, maximumPercent 200):

- starts tasks for the PRIMARY deployment up to its desired count, within maximumPercent;
- stops ACTIVE deployments' tasks once enough healthy ones remain (minimumHealthyPercent):
  out of the load balancer first, then SIGTERM, then SIGKILL;
- a task that exits, fails its health checks or cannot be pulled counts as a failed task of
  its deployment; with the circuit breaker enabled, `breaker_threshold` failures (2 by
  default in the sandbox; AWS uses half the desired count, 3 to 200) make the deployment
  FAILED, and with rollback on, a new PRIMARY deployment of the last completed task
  definition replaces it;
- the PRIMARY deployment is COMPLETED once its desired count of tasks is RUNNING and HEALTHY
  and no other deployment has a task left, with ECS's events ("has reached a steady state.").

Every deployment is also a service deployment of a service revision
(releasectl_sandbox.ecs_deployments): the update_service and create_service responses name it in
currentServiceDeployment, and ListServiceDeployments, DescribeServiceDeployments,
StopServiceDeployment and DescribeServiceRevisions answer from these records. The service's
deploymentConfiguration.strategy picks how it runs: ROLLING as above (with bake time while its
alarms watch, and early success criteria), or BLUE_GREEN, CANARY and LINEAR through the
listener rules of its load balancer's advancedConfiguration (releasectl_sandbox.ecs_traffic).
Deployment alarms are the sandbox's (releasectl_sandbox.alarms): they fire on the 5xx rate the
load balancers see.

describe_services, list_tasks and describe_tasks show all of it; stopped tasks stay visible
(stoppedReason, stopCode, exit code) for an hour. The task processes are in releasectl_sandbox.tasks.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from releasectl_sandbox import moto_internals as internals
from releasectl_sandbox.alarms import AlarmBook, RateAlarm
from releasectl_sandbox.ecs_deployments import (
    TERMINAL,
    RevisionCounts,
    SimRevision,
    SimServiceDeployment,
    service_deployment_arn,
    service_revision_arn,
)
from releasectl_sandbox.ecs_model import COMPLETED, SimDeployment, SimService, SimTask, deployment_id, now
from releasectl_sandbox.ecs_scheduler import Scheduler
from releasectl_sandbox.ecs_traffic import strategy_of
from releasectl_sandbox.logship import LogShipper
from releasectl_sandbox.state import StateDir
from releasectl_sandbox.tasks import (
    ImageResolver,
    LaunchSpec,
    TaskRunner,
    Timings,
    awslogs_location,
    marker_env,
    stop_all,
)


@dataclass
class EcsSimulator:
    account: str
    region: str
    resolver: ImageResolver
    shipper: LogShipper
    state: StateDir
    marker: str
    timings: Timings = field(default_factory=Timings)
    breaker_threshold: int = 2
    announce: Callable[[str], None] = lambda _line: None
    lock: threading.RLock = field(default_factory=threading.RLock)
    _services: dict[tuple[str, str], SimService] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _stopped_at: dict[str, float] = field(default_factory=dict)
    _scheduler: Scheduler = field(init=False)
    alarms: AlarmBook = field(init=False)

    def __post_init__(self) -> None:
        self.alarms = AlarmBook(on_change=self._alarm_changed)
        self._scheduler = Scheduler(
            self._launch,
            self.breaker_threshold,
            self.announce,
            firing=self.alarms.firing,
            set_weights=self._set_weights,
            minute=self.timings.minute,
        )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="sandbox-ecs-scheduler", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self.lock:
            runners = [t.runner for s in self._services.values() for t in s.tasks.values() if t.runner]
            for service in self._services.values():
                for task in service.tasks.values():
                    if task.live:
                        service.stop(
                            task, "Service deleted: the sandbox is stopping", "ServiceSchedulerInitiated"
                        )
        stop_all(runners, timeout=self.timings.stop_timeout + 2)

    def _loop(self) -> None:
        while not self._stop.wait(self.timings.tick):
            try:
                self.tick()
            except Exception as exc:  # keep scheduling; say what went wrong
                self.announce(f"sandbox: ECS scheduler error: {exc.__class__.__name__}: {exc}")

    # ------------------------------------------------------------------ views for the sandbox

    def healthy_targets(self, cluster: str, service: str) -> list[tuple[str, int]]:
        """(task id, port) of the service's tasks a load balancer may send requests to."""
        with self.lock:
            sim = self._services.get((cluster, service))
            if sim is None:
                return []
            return [(t.id, t.port) for t in sim.tasks.values() if t.healthy and t.port]

    def target_group_targets(self, target_group_arn: str) -> list[tuple[str, int]]:
        """(task id, port) of the healthy tasks registered in a target group: those of every service
        whose deployments put their tasks there, including services created after the load
        balancer started."""
        with self.lock:
            return [
                (t.id, t.port)
                for sim in self._services.values()
                for t in sim.tasks.values()
                if t.healthy and t.port and t.target_group == target_group_arn
            ]

    def listener_groups(
        self, rule_arn: str | None, default_group: str
    ) -> list[tuple[str, float, list[tuple[str, int]]]]:
        """What a listener forwards to: the target groups of its rule with their weights (as ECS
        set them), each with its healthy targets; without the rule, all to `default_group`."""
        weights = internals.rule_weights(self.region, rule_arn, self.account) if rule_arn else None
        if not weights:
            weights = {default_group: 100.0}
        return [(group, weight, self.target_group_targets(group)) for group, weight in weights.items()]

    def rule_exists(self, rule_arn: str) -> bool:
        return internals.rule_exists(self.region, rule_arn, self.account)

    def watch_alarm(self, alarm: RateAlarm) -> None:
        """Evaluate this alarm from the load balancers' reports, and let deployments roll back on it."""
        self.alarms.add(alarm)

    def steady(self) -> bool:
        with self.lock:
            return all(
                s.primary.rollout_state == COMPLETED and len(s.deployments) == 1
                for s in self._services.values()
            )

    def task_pids(self) -> list[int]:
        with self.lock:
            return [t.pid for s in self._services.values() for t in s.tasks.values() if t.pid]

    # ------------------------------------------------------------------ moto hooks (self.lock held)

    def on_service_created(self, service: Any) -> None:
        view = internals.service_view(service)
        first = view.deployments[0] if view.deployments else {}
        lbs = view.load_balancers
        groups = tuple(str(lb["targetGroupArn"]) for lb in lbs if lb.get("targetGroupArn"))
        sim = SimService(
            moto=service,
            name=view.name,
            cluster_name=view.cluster_name,
            cluster_arn=view.cluster_arn,
            desired=view.desired_count,
            container_name=str(lbs[0].get("containerName")) if lbs and lbs[0].get("containerName") else None,
            target_groups=groups,
            arn=view.arn,
            live_target_group=groups[0] if groups else None,
        )
        revision, sd = self._records(sim, view, str(view.task_definition))
        sim.deployments = [
            SimDeployment(
                id=str(first.get("id") or deployment_id()),
                task_definition=str(view.task_definition),
                desired=view.desired_count,
                revision=revision.arn,
                target_group=sim.live_target_group,
                service_deployment=sd,
            )
        ]
        self._services[(view.cluster_name, view.name)] = sim
        self._publish(sim)
        self.announce(f"sandbox: created ECS service {view.name} in {view.cluster_name}")
        if view.task_definition:
            self.announce(
                f"sandbox: ECS deployment {sim.primary.id} of {view.name} started: {view.task_definition}"
            )

    def on_service_configured(self, service: Any) -> None:
        """create_service's deploymentConfiguration is known only after moto made the service: the
        first service deployment records it now (before any scheduler pass sees it)."""
        view = internals.service_view(service)
        sim = self._services.get((view.cluster_name, view.name))
        if sim is None or not sim.service_deployments:
            return
        sd = sim.service_deployments[0]
        sd.configuration = dict(view.deployment_configuration)
        sd.strategy = strategy_of(sd.configuration)

    def _records(
        self, sim: SimService, view: Any, task_definition: str
    ) -> tuple[SimRevision, SimServiceDeployment]:
        """The service revision and the service deployment of a deployment starting now; ongoing
        service deployments are superseded by it."""
        revision = SimRevision(
            arn=service_revision_arn(self.region, self.account, sim.cluster_name, sim.name),
            service_arn=sim.arn,
            cluster_arn=sim.cluster_arn,
            task_definition=task_definition,
            launch_type=view.launch_type,
            load_balancers=tuple(dict(lb) for lb in view.load_balancers),
            network_configuration=dict(view.network_configuration) if view.network_configuration else None,
        )
        sim.revisions[revision.arn] = revision
        sources = []
        for deployment in sim.deployments:
            if sim.live_tasks(deployment) and deployment.revision and deployment.revision not in sources:
                sources.append(deployment.revision)
        config = dict(view.deployment_configuration)
        sd = SimServiceDeployment(
            arn=service_deployment_arn(self.region, self.account, sim.cluster_name, sim.name),
            service_arn=sim.arn,
            cluster_arn=sim.cluster_arn,
            target_revision=revision.arn,
            source_revisions=tuple(sources),
            configuration=config,
            strategy=strategy_of(config),
            breaker_threshold=self.breaker_threshold,
        )
        for ongoing in sim.service_deployments:
            if not ongoing.done and ongoing.status != "STOP_REQUESTED":
                ongoing.move("STOP_REQUESTED", f"ECS stopped the service deployment: {sd.arn} superseded it.")
        sim.service_deployments = [sd, *sim.service_deployments]
        return revision, sd

    def on_update_service(
        self, service: Any, *, task_definition: str | None, desired_count: int | None, force: bool
    ) -> None:
        view = internals.service_view(service)
        sim = self._services.get((view.cluster_name, view.name))
        if sim is None:
            self.on_service_created(service)
            sim = self._services[(view.cluster_name, view.name)]
        if desired_count is not None:
            sim.desired = desired_count
            sim.primary.desired = desired_count
        arn = (
            internals.task_definition(self.region, task_definition, self.account)["taskDefinitionArn"]
            if task_definition
            else None
        )
        if (arn and arn != sim.primary.task_definition) or force:
            definition = arn or sim.primary.task_definition
            revision, sd = self._records(sim, view, definition)
            self._scheduler.deploy(
                sim, definition, revision=revision.arn, service_deployment=sd, config=sd.configuration
            )
        self._publish(sim)

    def list_tasks(
        self,
        *,
        cluster: str,
        service_name: str | None,
        started_by: str | None,
        desired_status: str | None,
        family: str | None,
    ) -> list[str] | None:
        name = cluster.rsplit("/", 1)[-1]
        wanted = desired_status or "RUNNING"
        service = service_name.rsplit("/", 1)[-1] if service_name else None
        found = []
        for (cluster_name, service_key), sim in self._services.items():
            if cluster_name != name or (service and service != service_key):
                continue
            for task in sorted(sim.tasks.values(), key=lambda t: t.created_at):
                if task.desired_status != wanted or (started_by and task.deployment_id != started_by):
                    continue
                if family and task.task_definition.rsplit("/", 1)[-1].split(":")[0] != family:
                    continue
                found.append(task.arn)
        return found

    def describe_tasks(self, *, cluster: str, tasks: Sequence[str]) -> list[dict[str, Any]]:
        wanted = {ref.rsplit("/", 1)[-1] for ref in tasks}
        name = cluster.rsplit("/", 1)[-1]
        return [
            task.to_api()
            for (cluster_name, _), sim in self._services.items()
            if cluster_name == name
            for task in sim.tasks.values()
            if task.id in wanted
        ]

    def task_counts(self, *, cluster: str) -> tuple[int, int]:
        name = cluster.rsplit("/", 1)[-1]
        tasks = [t for (c, _), sim in self._services.items() if c == name for t in sim.tasks.values()]
        running = sum(1 for t in tasks if t.last_status == "RUNNING")
        pending = sum(1 for t in tasks if t.live and t.last_status in ("PROVISIONING", "PENDING"))
        return running, pending

    def stop_task(self, *, cluster: str, task: str, reason: str | None) -> dict[str, Any] | None:
        wanted = task.rsplit("/", 1)[-1]
        for (cluster_name, _), sim in self._services.items():
            found = sim.tasks.get(wanted)
            if cluster_name == cluster.rsplit("/", 1)[-1] and found is not None:
                if found.live:
                    sim.stop(found, reason or "Task stopped by user", "UserInitiated")
                return found.to_api()
        return None

    # ------------------------------------------------------------------ task reports (runner threads)

    def _find(self, task_id: str) -> tuple[SimService, SimTask] | None:
        for sim in self._services.values():
            if task_id in sim.tasks:
                return sim, sim.tasks[task_id]
        return None

    def task_started(self, task_id: str, pid: int, port: int, image_digest: str) -> None:
        with self.lock:
            if (found := self._find(task_id)) is None:
                return
            sim, task = found
            task.pid, task.port, task.image_digest = pid, port, image_digest
            task.started_at = now()
            revision = self._revision_of(sim, task)
            if revision is not None:
                revision.saw(task)
            if task.live:
                task.last_status = "RUNNING"
            task.version += 1
            self.announce(f"sandbox: ECS task {task.id} of {sim.name} runs on 127.0.0.1:{port} (pid {pid})")

    def task_healthy(self, task_id: str) -> None:
        with self.lock:
            if (found := self._find(task_id)) is not None and found[1].live:
                found[1].health = "HEALTHY"
                found[1].version += 1

    def task_unhealthy(self, task_id: str, detail: str) -> None:
        with self.lock:
            if (found := self._find(task_id)) is None or not found[1].live:
                return
            sim, task = found
            task.health = "UNHEALTHY"
            sim.event(f"(task {task.id}) failed container health checks.")
            sim.count_failure(task)
            sim.stop(
                task, f"Task failed container health checks (sandbox: {detail})", "ServiceSchedulerInitiated"
            )

    def task_exited(self, task_id: str, exit_code: int) -> None:
        with self.lock:
            if (found := self._find(task_id)) is None:
                return
            sim, task = found
            task.exit_code = exit_code
            if task.live:
                sim.count_failure(task)
                sim.stop(task, "Essential container in task exited", "EssentialContainerExited", drain=False)

    def task_failed_to_start(self, task_id: str, reason: str) -> None:
        with self.lock:
            if (found := self._find(task_id)) is None:
                return
            sim, task = found
            if task.live:
                sim.count_failure(task)
            task.desired_status, task.last_status = "STOPPED", "STOPPED"
            task.stopped_reason = task.stopped_reason or reason
            task.stop_code = task.stop_code or "TaskFailedToStart"
            task.stopping_at = task.stopping_at or now()
            task.stopped_at = now()
            task.version += 1
            self._stopped_at[task.id] = time.monotonic()
            self.announce(f"sandbox: ECS task {task.id} of {sim.name} failed to start: {reason}")

    def task_stopped(self, task_id: str, exit_code: int | None) -> None:
        with self.lock:
            if (found := self._find(task_id)) is None:
                return
            sim, task = found
            task.desired_status, task.last_status = "STOPPED", "STOPPED"
            if task.exit_code is None:
                task.exit_code = exit_code
            task.stopped_reason = task.stopped_reason or "Task stopped"
            task.stopping_at = task.stopping_at or now()
            task.stopped_at = now()
            task.version += 1
            self._stopped_at[task.id] = time.monotonic()
            why = f"exit {task.exit_code}: {task.stopped_reason}"
            self.announce(f"sandbox: ECS task {task.id} of {sim.name} stopped ({why})")

    # ------------------------------------------------------------------ the scheduler

    def tick(self) -> None:
        self.alarms.evaluate()
        with self.lock:
            for sim in self._services.values():
                self._scheduler.reconcile(sim, internals.service_view(sim.moto).deployment_configuration)
                self._publish(sim)
            self._forget_old_tasks()

    def _launch(self, sim: SimService, deployment: SimDeployment) -> SimTask:
        definition = internals.task_definition(self.region, deployment.task_definition, self.account)
        containers = definition["containerDefinitions"]
        container = next((c for c in containers if c.get("name") == sim.container_name), containers[0])
        task_id = uuid.uuid4().hex
        task = SimTask(
            id=task_id,
            arn=f"arn:aws:ecs:{self.region}:{self.account}:task/{sim.cluster_name}/{task_id}",
            cluster_arn=sim.cluster_arn,
            service=sim.name,
            deployment_id=deployment.id,
            group=f"service:{sim.name}",
            started_by=deployment.id,
            task_definition=deployment.task_definition,
            container_name=str(container.get("name")),
            image=str(container.get("image")),
            cpu=definition.get("cpu"),
            memory=definition.get("memory"),
            target_group=deployment.target_group,
        )
        group, stream = awslogs_location(container, task_id)
        task.runner = TaskRunner(
            LaunchSpec(task_id, task.image, container, group, stream, marker_env(self.marker, self.region)),
            self.resolver,
            self,
            self.timings,
            self.shipper,
            self.state,
        )
        sim.tasks[task_id] = task
        task.runner.start()
        return task

    def _publish(self, sim: SimService) -> None:
        tasks = list(sim.tasks.values())
        for sd in sim.service_deployments:
            if sd.counts is None or not sd.done or not sd.counts_final:
                sd.counts = self._counts(sim, sd)
                sd.counts_final = sd.done
        for deployment in sim.deployments:
            revision = sim.revisions.get(deployment.revision)
            if revision is not None and deployment.target_group and revision.production_target_group is None:
                revision.production_target_group = deployment.target_group
        current = sim.service_deployments[0] if sim.service_deployments else None
        internals.publish_service(
            sim.moto,
            deployments=[d.to_api(tasks) for d in sim.deployments],
            events=list(sim.events),
            running=sum(1 for t in tasks if t.last_status == "RUNNING"),
            pending=sum(1 for t in tasks if t.live and t.last_status in ("PROVISIONING", "PENDING")),
            desired=sim.desired,
            task_definition=sim.primary.task_definition,
            current_service_deployment=current.arn if current is not None else None,
            current_service_revisions=[
                counts.to_api(arn)
                for arn, counts in (current.counts or {}).items()
                if counts.requested or counts.running
            ]
            if current is not None
            else [],
        )

    def _revision_of(self, sim: SimService, task: SimTask) -> SimRevision | None:
        for deployment in sim.deployments:
            if deployment.id == task.deployment_id:
                return sim.revisions.get(deployment.revision)
        return None

    def _counts(self, sim: SimService, sd: SimServiceDeployment) -> dict[str, RevisionCounts]:
        """Tasks and traffic weights of the deployment's revisions now. A blue/green, canary or
        linear deployment reports the weights it set on the listener rules; a rolling one, the
        share of healthy tasks each revision has behind the load balancer."""
        arns = (sd.target_revision, *sd.source_revisions)
        by_revision: dict[str, list[SimTask]] = {arn: [] for arn in arns}
        owner = {d.id: d.revision for d in sim.deployments}
        for task in sim.tasks.values():
            revision = owner.get(task.deployment_id)
            if revision in by_revision:
                by_revision[revision].append(task)
        primary = sim.primary
        target = next((d for d in sim.deployments if d.service_deployment is sd), None)
        shift = target.shift if target is not None else None
        healthy = {arn: sum(1 for t in tasks if t.healthy) for arn, tasks in by_revision.items()}
        total = sum(healthy.values())
        found = {}
        for index, arn in enumerate(arns):
            tasks = by_revision[arn]
            if shift is not None:
                # What ECS set on the listener rules: the target's share, the rest to the
                # revision production traffic went to when the deployment started.
                weight = shift.production if arn == sd.target_revision else 0.0
                test = shift.test if arn == sd.target_revision else 0.0
                if index == 1:
                    weight, test = 100.0 - shift.production, 100.0 - shift.test
            else:
                weight = test = round(100.0 * healthy[arn] / total, 1) if total else 0.0
            requested = sim.desired if arn == primary.revision else sum(1 for t in tasks if t.live)
            found[arn] = RevisionCounts(
                requested=requested,
                running=sum(1 for t in tasks if t.last_status == "RUNNING"),
                pending=sum(1 for t in tasks if t.live and t.last_status in ("PROVISIONING", "PENDING")),
                test_weight=test,
                production_weight=weight,
            )
        return found

    def _set_weights(self, rule_arn: str, weights: Mapping[str, float]) -> None:
        """What ECS does through the service's infrastructure role: the listener rule's forward
        weights, written to moto's ELBv2, where `aws elbv2 describe-rules` shows them."""
        try:
            internals.set_rule_weights(self.region, rule_arn, weights, self.account)
        except Exception as exc:  # the deployment goes on; say what went wrong
            self.announce(
                f"sandbox: could not set the weights of {rule_arn}: {exc.__class__.__name__}: {exc}"
            )

    def _alarm_changed(self, alarm: RateAlarm) -> None:
        self.announce(f"sandbox: CloudWatch alarm {alarm.name} is {alarm.state}: {alarm.reason}")
        try:
            internals.set_alarm_state(self.region, alarm.name, alarm.state, alarm.reason, self.account)
        except Exception as exc:
            self.announce(f"sandbox: could not set alarm {alarm.name}: {exc.__class__.__name__}: {exc}")

    # ------------------------------------------------------------------ service deployments (self.lock held)

    def _service_deployment(self, arn: str) -> tuple[SimService, SimServiceDeployment] | None:
        for sim in self._services.values():
            for sd in sim.service_deployments:
                if sd.arn == arn:
                    return sim, sd
        return None

    def list_service_deployments(
        self,
        *,
        cluster: str,
        service: str,
        statuses: Sequence[str] | None,
        created_after: datetime | None,
        created_before: datetime | None,
    ) -> list[dict[str, Any]]:
        sim = self._services.get((cluster, service))
        if sim is None:
            return []
        return [
            sd.brief()
            for sd in sim.service_deployments
            if (not statuses or sd.status in statuses)
            and (created_after is None or sd.created_at >= created_after)
            and (created_before is None or sd.created_at <= created_before)
        ]

    def describe_service_deployments(self, arns: Sequence[str]) -> tuple[list[dict[str, Any]], list[str]]:
        found, missing = [], []
        for arn in arns:
            hit = self._service_deployment(arn)
            if hit is None:
                missing.append(arn)
            else:
                found.append(hit[1].to_api())
        return found, missing

    def stop_service_deployment(self, arn: str, stop_type: str) -> None:
        """StopServiceDeployment; raises internals.ApiError as ECS answers."""
        hit = self._service_deployment(arn)
        if hit is None:
            raise internals.ApiError(
                "ServiceDeploymentNotFoundException", f"The service deployment {arn} does not exist."
            )
        sim, sd = hit
        if sd.status in TERMINAL:
            raise internals.ApiError(
                "ConflictException",
                f"The service deployment {arn} is already {sd.status}: it cannot be stopped.",
            )
        refused = self._scheduler.request_stop(sim, sd, stop_type)
        if refused:
            raise internals.ApiError("InvalidParameterException", refused)
        self._publish(sim)

    def describe_service_revisions(self, arns: Sequence[str]) -> tuple[list[dict[str, Any]], list[str]]:
        found, missing = [], []
        for arn in arns:
            revision = next((s.revisions[arn] for s in self._services.values() if arn in s.revisions), None)
            if revision is None:
                missing.append(arn)
            else:
                found.append(revision.to_api())
        return found, missing

    def _forget_old_tasks(self) -> None:
        horizon = time.monotonic() - self.timings.stopped_task_ttl
        for task_id, stopped in list(self._stopped_at.items()):
            if stopped < horizon:
                del self._stopped_at[task_id]
                for sim in self._services.values():
                    sim.tasks.pop(task_id, None)
