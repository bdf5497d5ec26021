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

describe_services, list_tasks and describe_tasks show all of it; stopped tasks stay visible
(stoppedReason, stopCode, exit code) for an hour. The task processes are in releasectl_sandbox.tasks.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from releasectl_sandbox import moto_internals as internals
from releasectl_sandbox.ecs_model import COMPLETED, SimDeployment, SimService, SimTask, deployment_id, now
from releasectl_sandbox.ecs_scheduler import Scheduler
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

    def __post_init__(self) -> None:
        self._scheduler = Scheduler(self._launch, self.breaker_threshold, self.announce)

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
        whose loadBalancers name it, including services created after the load balancer started."""
        with self.lock:
            return [
                (t.id, t.port)
                for sim in self._services.values()
                if target_group_arn in sim.target_groups
                for t in sim.tasks.values()
                if t.healthy and t.port
            ]

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
        sim = SimService(
            moto=service,
            name=view.name,
            cluster_name=view.cluster_name,
            cluster_arn=view.cluster_arn,
            desired=view.desired_count,
            container_name=str(lbs[0].get("containerName")) if lbs and lbs[0].get("containerName") else None,
            target_groups=tuple(str(lb["targetGroupArn"]) for lb in lbs if lb.get("targetGroupArn")),
        )
        sim.deployments = [
            SimDeployment(
                id=str(first.get("id") or deployment_id()),
                task_definition=str(view.task_definition),
                desired=view.desired_count,
            )
        ]
        self._services[(view.cluster_name, view.name)] = sim
        self._publish(sim)
        self.announce(f"sandbox: created ECS service {view.name} in {view.cluster_name}")
        if view.task_definition:
            self.announce(
                f"sandbox: ECS deployment {sim.primary.id} of {view.name} started: {view.task_definition}"
            )

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
            self._scheduler.deploy(sim, arn or sim.primary.task_definition)
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
            task_definition=deployment.task_definition,
            container_name=str(container.get("name")),
            image=str(container.get("image")),
            cpu=definition.get("cpu"),
            memory=definition.get("memory"),
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
        internals.publish_service(
            sim.moto,
            deployments=[d.to_api(tasks) for d in sim.deployments],
            events=list(sim.events),
            running=sum(1 for t in tasks if t.last_status == "RUNNING"),
            pending=sum(1 for t in tasks if t.live and t.last_status in ("PROVISIONING", "PENDING")),
            desired=sim.desired,
            task_definition=sim.primary.task_definition,
        )

    def _forget_old_tasks(self) -> None:
        horizon = time.monotonic() - self.timings.stopped_task_ttl
        for task_id, stopped in list(self._stopped_at.items()):
            if stopped < horizon:
                del self._stopped_at[task_id]
                for sim in self._services.values():
                    sim.tasks.pop(task_id, None)
