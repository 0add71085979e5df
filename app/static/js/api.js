// Fetching from Foncier's API: the token when one is entered, and a problem document
// (RFC 9457) said as one French sentence from its stable code.
import { CRITERION_FR, FILTER_LABELS, PROBLEMS } from "./labels.js";

// when the code is unknown to this page.
export function problemText(body, status) {
  if (!body || typeof body !== "object") return `Erreur HTTP ${status}`;
  const said = PROBLEMS[body.code];
  if (!said) return [body.title, body.detail].filter(Boolean).join(" — ") || `Erreur HTTP ${status}`;
  const fields = (body.errors || []).map((e) => {
    const name = e.location[e.location.length - 1];
    return FILTER_LABELS[name] || CRITERION_FR[name] || name;
  });
  return fields.length ? `${said} : ${[...new Set(fields)].join(", ")}.` : `${said}.`;
}

export async function api(url, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  const token = sessionStorage.getItem("foncier-token");
  if (token && options.auth !== false) headers.Authorization = `Bearer ${token}`;
  if (options.body) headers["Content-Type"] = "application/json";
  const response = await fetch(url, { ...options, headers }).catch(() => {
    throw new Error("Service Foncier injoignable : vérifiez la connexion et réessayez.");
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error(problemText(body, response.status));
  return body;
}
