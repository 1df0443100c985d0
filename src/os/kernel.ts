// A guest's own small kernel: tasks, timers and virtual interrupt handlers, on the services the
// nanokernel gives it. The rtos schedules tasks by fixed priority (run to completion, lowest
// number first); the gpos time-shares them round robin. Timers are multiplexed onto the one
// virtual timer. Every entry point is one bounded unit the nanokernel dispatches.
import { Irq, type DomainServices, type GuestOs } from '../nanokernel/guest-interface.js';

export type TaskPolicy = 'fixed-priority' | 'time-sharing';

export interface Task {
  readonly name: string;
  /** Lower runs first under fixed priority; ignored under time sharing. */
  readonly priority: number;
  /** Run one bounded step. Return true if the task is still ready (has more to do now). */
  step(now: number): boolean;
}

export interface TaskHandle {
  readonly name: string;
  /** Make the task ready; `releasedAt` is when it should have started (for lateness). */
  release(releasedAt?: number): void;
}

interface TaskState {
  task: Task;
  ready: boolean;
  steps: number;
}

interface Timer {
  id: number;
  at: number;
  periodUs: number;
  fn: (due: number) => void;
}

export interface KernelStats {
  tasks: Array<{ name: string; priority: number; steps: number; ready: boolean }>;
  timersFired: number;
  interrupts: number;
}

function byDeadline(a: Timer, b: Timer): number {
  return a.at - b.at;
}

export class GuestKernel implements GuestOs {
  private readonly tasks: TaskState[] = [];
  private timers: Timer[] = [];
  private nextTimerId = 1;
  private rrCursor = 0;
  private programmed: number | undefined;
  /** Interrupt lines and their handlers, in the order first installed (arrays: an interrupt iterates them with no iterator object). */
  private readonly irqLines: number[] = [];
  private readonly irqHandlers: Array<() => void> = [];
  /** fireTimers' list of due timers, emptied and refilled per timer interrupt. */
  private readonly due: Timer[] = [];
  private readonly bootHooks: Array<() => void> = [];
  private readonly shutdownHooks: Array<() => void> = [];
  private readonly afterUnitHooks: Array<() => void> = [];
  private timersFired = 0;
  private interrupts = 0;

  constructor(readonly hw: DomainServices, readonly policy: TaskPolicy) {}

  now(): number {
    return this.hw.now();
  }

  /** Install the handler of a virtual interrupt line. */
  onInterrupt(line: number, handler: () => void): void {
    const i = this.irqLines.indexOf(line);
    if (i >= 0) {
      this.irqHandlers[i] = handler;
      return;
    }
    this.irqLines.push(line);
    this.irqHandlers.push(handler);
  }

  /** Run at boot, in order. */
  onBoot(hook: () => void): void {
    this.bootHooks.push(hook);
  }

  /** Run when the machine stops or an operator reboots this guest (DHCP RELEASE), in order. */
  onShutdown(hook: () => void): void {
    this.shutdownHooks.push(hook);
  }

  /** Run at the end of every unit (a driver re-arms its protocol timers here). */
  afterUnit(hook: () => void): void {
    this.afterUnitHooks.push(hook);
  }

  /** Add a task, not ready until released. */
  spawn(task: Task): TaskHandle {
    const st: TaskState = { task, ready: false, steps: 0 };
    this.tasks.push(st);
    if (this.policy === 'fixed-priority') this.tasks.sort((a, b) => a.task.priority - b.task.priority);
    return {
      name: task.name,
      release: () => {
        st.ready = true;
      },
    };
  }

  /** Call `fn(due)` once at `atUs`; returns an id for cancel(). */
  at(atUs: number, fn: (due: number) => void): number {
    return this.addTimer(atUs, 0, fn);
  }

  /** Call `fn(due)` every `periodUs`, first at `firstUs`. Releases keep to the grid even when late. */
  every(periodUs: number, firstUs: number, fn: (due: number) => void): number {
    if (!(periodUs > 0)) throw new RangeError(`period must be positive, got ${periodUs}`);
    return this.addTimer(firstUs, periodUs, fn);
  }

  cancel(id: number): void {
    const timers = this.timers;
    for (let i = 0; i < timers.length; i++) {
      if (timers[i]!.id === id) {
        this.removeTimer(i);
        break;
      }
    }
    this.program();
  }

  /** Remove timers[i] in place (no new array per removal). */
  private removeTimer(i: number): void {
    const timers = this.timers;
    for (let j = i + 1; j < timers.length; j++) timers[j - 1] = timers[j]!;
    timers.length--;
  }

  private addTimer(at: number, periodUs: number, fn: (due: number) => void): number {
    const id = this.nextTimerId++;
    this.timers.push({ id, at, periodUs, fn });
    this.program();
    return id;
  }

  /** Program the one virtual timer for the earliest deadline. */
  private program(): void {
    let earliest: number | undefined;
    const timers = this.timers;
    for (let i = 0; i < timers.length; i++) {
      const at = timers[i]!.at;
      if (earliest === undefined || at < earliest) earliest = at;
    }
    if (earliest !== this.programmed) {
      this.programmed = earliest;
      this.hw.setTimer(earliest);
    }
  }

  private fireTimers(): void {
    const now = this.hw.now();
    // Snapshot the due ones: a callback may add timers, which wait for the next interrupt.
    const due = this.due;
    due.length = 0;
    const timers = this.timers;
    for (let i = 0; i < timers.length; i++) if (timers[i]!.at <= now) due.push(timers[i]!);
    if (due.length > 1) due.sort(byDeadline);
    for (let k = 0; k < due.length; k++) {
      const t = due[k]!;
      // A callback before this one (of this interrupt) may have cancelled it: then it does not run.
      const i = this.timers.indexOf(t);
      if (i < 0) continue;
      const at = t.at;
      if (t.periodUs > 0) {
        // Next release on the grid, skipping any that are already wholly past.
        t.at += t.periodUs * Math.max(1, Math.ceil((now - t.at) / t.periodUs));
      } else {
        this.removeTimer(i);
      }
      this.timersFired++;
      t.fn(at);
    }
    due.length = 0;
    this.programmed = undefined; // the virtual timer fired: it is no longer armed
    this.program();
  }

  boot(): void {
    for (const hook of this.bootHooks) hook();
    this.endUnit();
  }

  shutdown(): void {
    for (const hook of this.shutdownHooks) hook();
    this.endUnit();
  }

  interrupt(lines: number): void {
    this.interrupts++;
    if (lines & Irq.Timer) this.fireTimers();
    for (let i = 0; i < this.irqLines.length; i++) if (lines & this.irqLines[i]!) this.irqHandlers[i]!();
    this.endUnit();
  }

  runnable(): boolean {
    const tasks = this.tasks;
    for (let i = 0; i < tasks.length; i++) if (tasks[i]!.ready) return true;
    return false;
  }

  step(): void {
    const st = this.pick();
    if (st) {
      st.steps++;
      st.ready = st.task.step(this.hw.now());
    }
    this.endUnit();
  }

  private pick(): TaskState | undefined {
    const n = this.tasks.length;
    if (this.policy === 'fixed-priority') return this.tasks.find((t) => t.ready);
    for (let i = 0; i < n; i++) {
      const st = this.tasks[(this.rrCursor + i) % n]!;
      if (st.ready) {
        this.rrCursor = (this.rrCursor + i + 1) % n;
        return st;
      }
    }
    return undefined;
  }

  private endUnit(): void {
    const hooks = this.afterUnitHooks;
    for (let i = 0; i < hooks.length; i++) hooks[i]!();
  }

  stats(): KernelStats {
    return {
      tasks: this.tasks.map((t) => ({ name: t.task.name, priority: t.task.priority, steps: t.steps, ready: t.ready })),
      timersFired: this.timersFired,
      interrupts: this.interrupts,
    };
  }
}
