// Drives the Airflow UI in Debian's headless chromium (playwright-core, no browser download) as an operator
// clicks through it, takes a screenshot of each step and prints what the page showed as one JSON line.
//
//   node airflow_ui.mjs trigger <dag_id> <png> '<{"field label": value}>'   -> {"run_id": ...}
//   node airflow_ui.mjs mapped <dag_id> <run_id> <task_id> <png>           -> {"rows": [[label, state, try]]}
//   node airflow_ui.mjs clear-failed <dag_id> <run_id> <task_id> <label> <png> -> {"affected": [[task, state, map index]]}
//
// The base URL and the login come from AIRFLOW_URL, AIRFLOW_USER and AIRFLOW_PASSWORD (never the command line).
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
// Without the background-networking flags chromium keeps dialling Google's hosts, refused on a closed network.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const VIEWPORT = { width: 1400, height: 1000 };
const WAIT_MS = Number(process.env.UI_WAIT_MS || 60000);

function runPath(dagId, runId) {
  return `/dags/${encodeURIComponent(dagId)}/runs/${encodeURIComponent(runId)}`;
}

async function signedIn(browser, path) {
  const page = await browser.newPage({ viewport: VIEWPORT });
  page.setDefaultTimeout(WAIT_MS);
  await page.goto(process.env.AIRFLOW_URL + path);
  await page.getByLabel(/username/i).fill(process.env.AIRFLOW_USER);
  await page.getByLabel(/password/i).fill(process.env.AIRFLOW_PASSWORD);
  await page.getByRole('button', { name: /sign in/i }).click();
  await page.waitForURL((url) => !url.pathname.startsWith('/auth/'));
  return page;
}

async function trigger(browser, dagId, png, values) {
  const page = await signedIn(browser, `/dags/${encodeURIComponent(dagId)}`);
  await page.getByRole('button', { name: 'Trigger' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByText('Run Parameters').waitFor();
  for (const [label, value] of Object.entries(JSON.parse(values))) {
    await dialog.getByLabel(label, { exact: false }).fill(String(value));
  }
  await page.setViewportSize({ width: VIEWPORT.width, height: 1700 }); // the whole form in one picture
  await dialog.screenshot({ path: png });
  await dialog.getByRole('button', { name: 'Trigger', exact: true }).click();
  await page.waitForURL(/\/runs\/[^/]+$/);
  return { run_id: decodeURIComponent(new URL(page.url()).pathname.split('/').pop()) };
}

async function mappedRows(page) {
  const rows = page.getByRole('row').filter({ has: page.getByRole('link', { name: /\S/ }) });
  await rows.first().waitFor();
  return (await rows.allInnerTexts()).map((text) => cellsOf(text).slice(0, 4));
}

async function mapped(browser, dagId, runId, taskId, png) {
  const page = await signedIn(browser, `${runPath(dagId, runId)}/tasks/${encodeURIComponent(taskId)}/mapped`);
  const rows = await mappedRows(page);
  await page.screenshot({ path: png });
  return { rows: rows.map(([label, state, , tries]) => [label, state, Number(tries)]) };
}

function cellsOf(text) {
  return text.split(/\s*\n\s*|\t+/).filter(Boolean);
}

// The confirmation's list of affected tasks, once it has reloaded after "Clear only failed tasks": listed,
// and none of them succeeded.
async function affectedOnceFiltered(dialog) {
  const until = Date.now() + WAIT_MS;
  for (;;) {
    const rows = (await dialog.getByRole('row').allInnerTexts()).map(cellsOf)
      .filter((cells) => cells.length >= 3 && /^-?\d+$/.test(cells[2]));
    if (rows.length && !rows.some(([, state]) => state === 'Success')) {
      return rows.map(([task, state, mapIndex]) => [task, state, Number(mapIndex)]);
    }
    if (Date.now() > until) throw new Error(`affected tasks never filtered: ${JSON.stringify(rows)}`);
    await dialog.page().waitForTimeout(250);
  }
}

async function clearFailed(browser, dagId, runId, taskId, label, png) {
  const page = await signedIn(browser, `${runPath(dagId, runId)}/tasks/${encodeURIComponent(taskId)}/mapped`);
  await mappedRows(page);
  const row = page.getByRole('row').filter({ hasText: label });
  await row.getByRole('button', { name: 'Clear Task Instance' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('button', { name: 'Clear only failed tasks' }).click();
  const listed = await affectedOnceFiltered(dialog);
  await dialog.screenshot({ path: png });
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await dialog.waitFor({ state: 'detached' });
  return { affected: listed };
}

const COMMANDS = { trigger, mapped, 'clear-failed': clearFailed };
const [command, ...args] = process.argv.slice(2);
if (!COMMANDS[command]) {
  console.error(`usage: node airflow_ui.mjs ${Object.keys(COMMANDS).join('|')} ...`);
  process.exit(2);
}
const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
try {
  console.log(JSON.stringify(await COMMANDS[command](browser, ...args)));
} finally {
  await browser.close();
}
