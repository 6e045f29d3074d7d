// Small helpers shared by the dashboard's views. No framework: the page is plain DOM.

export const $ = (id) => document.getElementById(id);

export function setText(id, text) {
  const e = $(id);
  if (e) e.textContent = text;
}

/** A table row of text cells (never HTML: channel names and payloads are untrusted). */
export function row(cells) {
  const tr = document.createElement('tr');
  for (const c of cells) {
    const td = document.createElement('td');
    if (c instanceof Node) td.append(c);
    else td.textContent = String(c);
    tr.append(td);
  }
  return tr;
}

export function fmtNum(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(2) + 'M';
  if (Math.abs(v) >= 1e4) return (v / 1e3).toFixed(1) + 'k';
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

export function fmtBytes(v) {
  if (!v) return '–';
  const mb = v / (1024 * 1024);
  return mb >= 1024 ? (mb / 1024).toFixed(2) + ' GiB' : mb.toFixed(0) + ' MiB';
}

export function fmtMs(v) {
  if (v === null || v === undefined) return '–';
  return (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)) + ' ms';
}

export function fmtDuration(s) {
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm';
  if (s < 86400) return Math.floor(s / 3600) + 'h' + Math.floor((s % 3600) / 60) + 'm';
  return Math.floor(s / 86400) + 'd' + Math.floor((s % 86400) / 3600) + 'h';
}

/** The admin session's CSRF token, held in memory only (never in storage or the URL). */
let csrf = '';
export function setCsrf(token) {
  csrf = token || '';
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** JSON to and from /dashboard/api/<path>; throws ApiError with the server's code and message. */
export async function api(path, body) {
  const init = { method: body === undefined ? 'GET' : 'POST', credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['content-type'] = 'application/json';
    init.headers['x-csrf-token'] = csrf;
  }
  const res = await fetch('/dashboard/api/' + path, init);
  let json = null;
  try {
    json = await res.json();
  } catch {
    // fall through: reported below
  }
  if (!res.ok) {
    const e = json && json.error ? json.error : { code: 0, message: `HTTP ${res.status}` };
    throw new ApiError(res.status, e.code, e.message);
  }
  return json;
}
