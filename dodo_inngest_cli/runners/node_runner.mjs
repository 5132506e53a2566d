// Runs a project's Inngest functions (JavaScript or TypeScript files) for dodo-inngest, with
// @inngest/test from the project's own node_modules; TypeScript loads through the project's
// tsx (`node --import tsx`). It speaks JSON lines: one request a line on stdin, one answer a
// line on stdout behind a marker (the same protocol as python_runner.py). Functions run one
// at a time, once each; step.sleep and step.sleepUntil return at once, step.waitForEvent and
// step.invoke return their stub (or null, as a wait that timed out); what a function prints
// is captured per run and never reaches stdout.
import { createRequire } from "node:module";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";

const MARK = "\u001edodo-inngest ";
const PRINTED_LIMIT = 65536;
const stdout = process.stdout.write.bind(process.stdout);
const stderr = process.stderr.write.bind(process.stderr);
let printed = null;

const capture = (chunk, encoding, callback) => {
  const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
  if (printed === null) {
    stderr(text);
  } else if (printed.size < PRINTED_LIMIT) {
    printed.parts.push(text.slice(0, PRINTED_LIMIT - printed.size));
    printed.size += text.length;
  } else {
    printed.size += text.length;
  }
  const done = typeof encoding === "function" ? encoding : callback;
  if (done) done();
  return true;
};
process.stdout.write = capture;
process.stderr.write = capture;
process.on("unhandledRejection", (reason) => stderr(`unhandled rejection: ${reason}\n`));
process.on("uncaughtException", (error) => stderr(`uncaught exception: ${error?.stack ?? error}\n`));

let functions = [];

const message = (error) =>
  error && typeof error === "object"
    ? `${error.name ?? "Error"}: ${error.message ?? JSON.stringify(error)}`
    : `Error: ${String(error)}`;

const frames = (stack) =>
  String(stack ?? "")
    .split("\n")
    .slice(1)
    .flatMap((line) => {
      const found = /^\s*at (?:(.*?) \()?(.+?):(\d+):(\d+)\)?$/.exec(line);
      if (!found) return [];
      const file = found[2].startsWith("file://") ? fileURLToPath(found[2]) : found[2];
      if (!path.isAbsolute(file) || file.split(path.sep).includes("node_modules")) return [];
      return [{ file, line: Number(found[3]), function: found[1] ?? "", code: "" }];
    })
    .reverse();

const isFunction = (value) => value?.[Symbol.toStringTag] === "Inngest.Function";

const describe = (target, fn) => {
  const triggers = [];
  const crons = [];
  for (const trigger of fn.opts.triggers ?? []) {
    if (trigger.cron) crons.push(trigger.cron);
    else if (trigger.event) {
      const event = typeof trigger.event === "string" ? trigger.event : trigger.event.name;
      triggers.push({ event, expression: trigger.if ?? null });
    }
  }
  return { id: fn.id(), name: fn.name, target, triggers, crons, file: null, line: null };
};

async function load({ targets }) {
  const found = [];
  for (const target of targets) {
    let Engine;
    try {
      ({ InngestTestEngine: Engine } = createRequire(target)("@inngest/test"));
    } catch (error) {
      return { ok: false, target, problem: "sdk", error: message(error) };
    }
    let module;
    try {
      module = await import(pathToFileURL(target).href);
    } catch (error) {
      return { ok: false, target, problem: "import", module: target, error: message(error) };
    }
    const named = Object.values(module).flatMap((value) =>
      Array.isArray(value) ? value.filter(isFunction) : isFunction(value) ? [value] : []);
    if (named.length === 0) return { ok: false, target, problem: "empty", kind: "module" };
    for (const fn of named) {
      if (!found.some((seen) => seen.fn === fn)) found.push({ target, fn, Engine });
    }
  }
  functions = found;
  return { ok: true, functions: found.map(({ target, fn }) => describe(target, fn)) };
}

async function run({ index, event, steps }) {
  const { fn, Engine } = functions[index];
  const stubbed = new Set();
  const stub = async (id) => {
    const key = typeof id === "string" ? id : id?.id;
    if (Object.hasOwn(steps, key)) return steps[key];
    stubbed.add(key);
    return null;
  };
  const transformCtx = (ctx) => ({
    ...ctx,
    step: {
      ...ctx.step,
      sleep: async () => undefined,
      sleepUntil: async () => undefined,
      waitForEvent: stub,
      invoke: stub,
    },
  });
  const engine = new Engine({
    function: fn,
    events: [event],
    transformCtx,
    steps: Object.entries(steps).map(([id, value]) => ({ id, handler: () => value })),
  });
  printed = { parts: [], size: 0 };
  let output = null;
  let error = null;
  try {
    const outcome = await engine.execute();
    if (outcome.error) error = outcome.error;
    else output = JSON.parse(JSON.stringify(outcome.result ?? null));
  } catch (thrown) {
    error = thrown;
  }
  let text = printed.parts.join("");
  if (printed.size > PRINTED_LIMIT) text += `\n… (${printed.size - PRINTED_LIMIT} more characters)`;
  printed = null;
  return {
    ok: true,
    output,
    error: error === null ? null : { message: message(error), frames: frames(error?.stack) },
    printed: text === "" ? [] : text.replace(/\n$/, "").split(/\r?\n/),
    stubbed: [...stubbed],
  };
}

const requests = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of requests) {
  const request = JSON.parse(line);
  const answer = request.op === "load" ? await load(request) : await run(request);
  stdout(MARK + JSON.stringify(answer) + "\n");
}
