#!/usr/bin/env node
// Renders every ```mermaid block of README.md and docs/*.md with mermaid (npm) in headless
// Chromium (Debian's /usr/bin/chromium), and exits 1 naming each block that fails to render.
//
//   cd scripts && npm ci && node render_mermaid.mjs [--out DIR] [FILE.md ...]
//
// --out DIR also writes each diagram as DIR/<file>-<line>.svg and .png (as drawn), to look at.
// CHROMIUM=/path/to/chromium overrides the browser.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const mermaidBundle = join(here, "node_modules", "mermaid", "dist", "mermaid.min.js");
const chromium = process.env.CHROMIUM || "/usr/bin/chromium";

function parseArgs(argv) {
  const files = [];
  let out = null;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--out") out = resolve(argv[++i]);
    else if (argv[i] === "-h" || argv[i] === "--help") {
      console.log("usage: node render_mermaid.mjs [--out DIR] [FILE.md ...]");
      process.exit(0);
    } else files.push(resolve(argv[i]));
  }
  if (files.length === 0) {
    files.push(join(root, "README.md"));
    const docs = join(root, "docs");
    for (const name of readdirSync(docs).sort()) if (name.endsWith(".md")) files.push(join(docs, name));
  }
  return { files, out };
}

// Fenced blocks opened by ```mermaid (or ~~~mermaid) and closed by the same fence.
function mermaidBlocks(file) {
  const lines = readFileSync(file, "utf8").split("\n");
  const blocks = [];
  let open = null;
  lines.forEach((line, index) => {
    if (open === null) {
      const m = line.match(/^\s*(`{3,}|~{3,})\s*mermaid\s*$/);
      if (m) open = { fence: m[1], line: index + 1, body: [] };
    } else if (line.trim().startsWith(open.fence) && line.trim().replace(/[`~]/g, "") === "") {
      blocks.push({ file: relative(root, file), line: open.line, code: open.body.join("\n") });
      open = null;
    } else {
      open.body.push(line);
    }
  });
  if (open !== null) blocks.push({ file: relative(root, file), line: open.line, code: null });
  return blocks;
}

async function main() {
  const { files, out } = parseArgs(process.argv.slice(2));
  if (!existsSync(mermaidBundle)) {
    console.error(`render_mermaid: ${mermaidBundle} is missing (run \`npm ci\` in scripts/)`);
    return 4;
  }
  if (!existsSync(chromium)) {
    console.error(`render_mermaid: no browser at ${chromium} (apt-get install chromium, or set CHROMIUM)`);
    return 4;
  }
  const blocks = files.flatMap(mermaidBlocks);
  if (blocks.length === 0) {
    console.error("render_mermaid: no mermaid blocks found; nothing was checked");
    return 1;
  }

  const { default: puppeteer } = await import("puppeteer-core");
  const profile = mkdtempSync(join(tmpdir(), "render-mermaid-"));
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    userDataDir: profile,
    // The machine's network is closed: without the background-networking flags Chromium
    // keeps trying (and failing) to reach Google's hosts.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
  const failures = [];
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 900 });
    await page.setContent("<!doctype html><html><body><div id='host'></div></body></html>");
    await page.addScriptTag({ path: mermaidBundle });
    await page.evaluate(() => {
      window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });
    });
    if (out) mkdirSync(out, { recursive: true });
    for (const [index, block] of blocks.entries()) {
      const where = `${block.file}:${block.line}`;
      if (block.code === null) {
        failures.push(`${where}: the mermaid block is never closed`);
        continue;
      }
      const answer = await page.evaluate(
        async (code, id) => {
          try {
            const { svg } = await window.mermaid.render(id, code);
            return { svg };
          } catch (error) {
            return { error: String((error && error.message) || error) };
          } finally {
            // A failed render leaves its error diagram in the page; clear it for the next one.
            document.getElementById(id)?.remove();
            document.getElementById(`d${id}`)?.remove();
          }
        },
        block.code,
        `diagram${index}`,
      );
      if (answer.error) {
        failures.push(`${where}: ${answer.error.split("\n").join(" | ")}`);
      } else if (!answer.svg.includes("<svg") || answer.svg.includes("Syntax error in text")) {
        failures.push(`${where}: rendered no diagram`);
      } else {
        console.log(`ok   ${where} (${answer.svg.length} bytes of SVG)`);
        if (out) {
          // The SVG holds HTML labels, so it is shown as the browser drew it: a PNG of the page.
          const name = `${basename(block.file, ".md")}-${block.line}`;
          writeFileSync(join(out, `${name}.svg`), answer.svg);
          await page.evaluate((svg) => {
            document.getElementById("host").innerHTML = svg;
          }, answer.svg);
          const drawn = await page.$("#host svg");
          await drawn.screenshot({ path: join(out, `${name}.png`) });
          await page.evaluate(() => {
            document.getElementById("host").innerHTML = "";
          });
        }
      }
    }
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }
  for (const failure of failures) console.error(`FAIL ${failure}`);
  // Worded unlike a test runner's summary, so CI logs keep pytest's line as the test count.
  console.log(`render_mermaid: rendered ${blocks.length - failures.length} of ${blocks.length} diagrams`);
  return failures.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`render_mermaid: ${error.stack || error}`);
    process.exit(1);
  },
);
