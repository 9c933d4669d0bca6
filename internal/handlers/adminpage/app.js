// The admin page: plain JavaScript against the JSON API, no build step.
// The session is the HttpOnly `token` cookie, sent by the browser with every
// same-origin fetch; the server refuses cookie writes from other sites.
"use strict";

const API = "/api/v1/admin";
const $ = (id) => document.getElementById(id);

// el builds an element; text only (never innerHTML), so no value from the
// API can become markup.
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}

function aviso(texto, tipo) {
  const a = $("aviso");
  a.textContent = texto;
  a.className = tipo || "ok";
  a.hidden = !texto;
}

// api calls the JSON API; it resolves to {status, body} and never throws on
// an HTTP error, so each caller words its own message.
async function api(method, path, body) {
  const opts = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body instanceof FormData) opts.body = body;
  else if (body !== undefined) {
    opts.body = JSON.stringify(body);
    opts.headers["Content-Type"] = "application/json";
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    return { status: 0, body: { mensaje: "Sin conexión con el servidor" } };
  }
  if (res.status === 401) {
    window.location.assign("/admin");
  }
  let data = null;
  if (res.status !== 204) {
    try { data = await res.json(); } catch (e) { data = null; }
  }
  return { status: res.status, body: data || {} };
}

const fmtBytes = (n) => n == null ? "—" : n < 1024 ? n + " B" : n < 1048576 ? (n / 1024).toFixed(1) + " KB" : (n / 1048576).toFixed(1) + " MB";
const fmtFecha = (s) => s ? new Date(s).toLocaleString("es-AR", { dateStyle: "short", timeStyle: "short" }) : "—";

function restante(s) {
  if (!s) return "—";
  const ms = new Date(s).getTime() - Date.now();
  if (ms <= 0) return "se purga en la próxima pasada";
  const h = Math.floor(ms / 3600000);
  if (h >= 48) return Math.floor(h / 24) + " días";
  if (h >= 1) return h + " h";
  return Math.max(1, Math.floor(ms / 60000)) + " min";
}

const local = (url) => url.startsWith("/recursos/");

// ---- Views -----------------------------------------------------------

function mostrar(vista) {
  for (const b of document.querySelectorAll("nav [data-vista]")) {
    b.setAttribute("aria-selected", String(b.dataset.vista === vista));
  }
  for (const s of document.querySelectorAll(".vista")) s.hidden = s.id !== "vista-" + vista;
  aviso("");
  if (vista === "imagenes") cargarImagenes(true);
  if (vista === "papelera") cargarPapelera(true);
  if (vista === "conserje") cargarConserje();
}

// ---- Imágenes ----------------------------------------------------------

const img = { siguiente: null, sel: new Set() };

function filtroQuery() {
  const q = new URLSearchParams({ limite: "48" });
  const p = $("f-producto").value.trim();
  if ($("f-sin").checked) q.set("sin_producto", "true");
  else if (p) q.set("producto_id", p);
  return q;
}

async function cargarImagenes(desdeCero) {
  const q = filtroQuery();
  if (!desdeCero && img.siguiente) q.set("despues_de", img.siguiente);
  const r = await api("GET", API + "/imagenes?" + q);
  if (r.status !== 200) {
    aviso(r.body.mensaje || "No se pudieron leer las imágenes", "error");
    return;
  }
  if (desdeCero) {
    $("grilla").replaceChildren();
    img.sel.clear();
  }
  for (const i of r.body.imagenes) $("grilla").append(tarjetaImagen(i));
  img.siguiente = r.body.siguiente;
  $("mas-imagenes").hidden = !img.siguiente;
  $("imagenes-vacio").hidden = $("grilla").children.length > 0;
  actualizarSeleccion();
}

function tarjetaImagen(i) {
  const src = local(i.url) ? i.url + "?w=256" : i.url;
  const check = el("input", { type: "checkbox", "aria-label": "Seleccionar imagen " + i.id, "data-id": i.id,
    onchange: (ev) => { ev.target.checked ? img.sel.add(i.id) : img.sel.delete(i.id); actualizarSeleccion(); } });
  return el("li", { class: "tarjeta", "data-id": i.id },
    el("label", { class: "foto" }, check,
      el("img", { src, alt: "Imagen " + i.id, width: "256", height: "256" })),
    el("dl", {},
      el("dt", { text: "ID" }), el("dd", { text: String(i.id) }),
      el("dt", { text: "Producto" }), el("dd", { text: i.producto_id ? String(i.producto_id) : "sin producto" }),
      el("dt", { text: "Tamaño" }), el("dd", { text: fmtBytes(i.bytes) }),
      el("dt", { text: "Subida" }), el("dd", { text: fmtFecha(i.created_at) })));
}

function actualizarSeleccion() {
  $("n-sel").textContent = img.sel.size;
  $("eliminar").disabled = img.sel.size === 0;
}

// bulk: the most ids the server's bulk delete route (SPEC §10) takes in one
// request (fewer on a bucket than on a folder), so a selection is one
// request per that many; 0 (no such route): one delete per image.
let bulk = 0;

async function eliminarSeleccion() {
  const ids = [...img.sel];
  if (!ids.length) return;
  $("eliminar").disabled = true;
  let ok = 0;
  const fallos = [];
  if (bulk > 0) {
    for (let i = 0; i < ids.length; i += bulk) {
      const r = await api("POST", API + "/imagenes/eliminar", { ids: ids.slice(i, i + bulk) });
      if (r.status === 200 && Array.isArray(r.body.eliminadas)) {
        ok += r.body.eliminadas.length;
        for (const id of r.body.no_encontradas || []) fallos.push(id + ": no encontrada");
      } else {
        fallos.push(r.body.mensaje || "error " + r.status);
      }
    }
  } else {
    for (const id of ids) {
      const r = await api("DELETE", API + "/imagenes/" + id);
      if (r.status === 200) ok++;
      else fallos.push(id + ": " + (r.body.mensaje || "error " + r.status));
    }
  }
  await cargarImagenes(true);
  if (fallos.length) aviso(`${ok} enviada(s) a la papelera; no se pudo con ${fallos.join("; ")}`, "error");
  else aviso(`${ok} imagen(es) enviada(s) a la papelera`, "ok");
}

async function subir(archivos) {
  const lista = [...archivos];
  if (!lista.length) return;
  let ok = 0;
  const fallos = [];
  for (const [n, f] of lista.entries()) {
    aviso(`Subiendo ${n + 1} de ${lista.length}: ${f.name}…`, "ok");
    const fd = new FormData();
    fd.append("imagen", f, f.name);
    const r = await api("POST", API + "/imagenes/subir", fd);
    if (r.status === 201) ok++;
    else fallos.push(f.name + ": " + (r.body.mensaje || "error " + r.status));
  }
  $("archivo").value = "";
  await cargarImagenes(true);
  if (fallos.length) aviso(`${ok} subida(s); con error: ${fallos.join("; ")}`, "error");
  else aviso(`${ok} imagen(es) subida(s)`, "ok");
}

// ---- Papelera ----------------------------------------------------------

const pap = { siguiente: null, sel: new Set() };

const motivos = {
  imagen: "eliminada a mano",
  producto_put: "quitada de su producto al editarlo",
  producto_delete: "su producto fue eliminado",
  huerfana: "archivo sin registro (huérfano), movido por el conserje",
  sin_producto: "nunca se asignó a un producto",
  colgante: "registro sin archivo, reparado",
  recuperada: "archivo de la papelera sin entrada, recuperado",
};

async function cargarPapelera(desdeCero) {
  const q = new URLSearchParams({ limite: "48" });
  if (!desdeCero && pap.siguiente) q.set("antes_de", pap.siguiente);
  const r = await api("GET", API + "/papelera?" + q);
  if (r.status !== 200) {
    aviso(r.body.mensaje || "No se pudo leer la papelera", "error");
    return;
  }
  if (desdeCero) {
    $("grilla-papelera").replaceChildren();
    pap.sel.clear();
  }
  for (const e of r.body.papelera) $("grilla-papelera").append(tarjetaEntrada(e));
  pap.siguiente = r.body.siguiente;
  $("mas-papelera").hidden = !pap.siguiente;
  $("papelera-vacio").hidden = $("grilla-papelera").children.length > 0;
  actualizarSeleccionP();
}

function tarjetaEntrada(e) {
  const foto = e.sin_archivo || !local(e.url)
    ? el("span", { class: "sin-foto", text: e.sin_archivo ? "sin archivo" : "url externa" })
    : el("img", { src: `${API}/papelera/${e.id}/miniatura?w=256`, alt: "Imagen eliminada " + (e.imagen_id || e.id), width: "256", height: "256" });
  const check = el("input", { type: "checkbox", "aria-label": "Seleccionar entrada " + e.id, "data-id": e.id,
    onchange: (ev) => { ev.target.checked ? pap.sel.add(e.id) : pap.sel.delete(e.id); actualizarSeleccionP(); } });
  return el("li", { class: "tarjeta", "data-id": e.id, "data-imagen": e.imagen_id || "" },
    el("label", { class: "foto" }, check, foto),
    el("dl", {},
      el("dt", { text: "Imagen" }), el("dd", { text: e.imagen_id ? String(e.imagen_id) : "—" }),
      el("dt", { text: "Motivo" }), el("dd", { text: motivos[e.motivo] || e.motivo }),
      el("dt", { text: "Por" }), el("dd", { text: e.eliminado_por || "—" }),
      el("dt", { text: "Eliminada" }), el("dd", { text: fmtFecha(e.eliminado_en) }),
      el("dt", { text: "Se purga en" }), el("dd", { text: restante(e.purga_en) })),
    el("button", { type: "button", class: "restaurar-una", text: "Restaurar", onclick: () => restaurar([e.id]) }));
}

function actualizarSeleccionP() {
  $("n-sel-p").textContent = pap.sel.size;
  $("restaurar").disabled = pap.sel.size === 0;
}

async function restaurar(ids) {
  let ok = 0;
  const fallos = [];
  for (const id of ids) {
    const r = await api("POST", `${API}/papelera/${id}/restaurar`);
    if (r.status === 200) ok++;
    else if (r.status === 409) fallos.push(`No se pudo restaurar la entrada ${id}: ${r.body.mensaje}. Quedó en la papelera.`);
    else fallos.push(`Entrada ${id}: ${r.body.mensaje || "error " + r.status}`);
  }
  await cargarPapelera(true);
  if (fallos.length) aviso((ok ? `${ok} restaurada(s). ` : "") + fallos.join(" "), "error");
  else aviso(`${ok} imagen(es) restaurada(s)`, "ok");
}

// ---- Conserje ----------------------------------------------------------

const campos = [
  ["recovered", "Recuperadas (borrados que no se confirmaron, devueltos a su lugar)"],
  ["purged", "Purgadas (más viejas que la retención, borradas para siempre)"],
  ["orphans", "Huérfanas (archivos sin registro, a la papelera)"],
  ["unattached", "Sin producto (subidas que nadie usó, a la papelera)"],
  ["dangling", "Registros sin archivo (informados)"],
  ["repaired", "Registros sin archivo reparados"],
  ["adopted", "Archivos de la papelera sin entrada, adoptados"],
  ["trash_missing", "Entradas de la papelera sin archivo"],
  ["in_flight", "En curso (otra transacción los tenía)"],
  ["staging", "Subidas abandonadas borradas de .tmp"],
  ["thumbnails", "Miniaturas de imágenes que ya no existen, borradas"],
  ["files_scanned", "Archivos revisados"],
  ["rows_scanned", "Registros revisados"],
  ["duration_ms", "Duración (ms)"],
];

// explicar words a refusal for a person: what it means and what to do.
function explicar(refused) {
  if (/marker/.test(refused)) return "La carpeta de almacenamiento no tiene el archivo marcador que escribe «imagenes serve» al arrancar por primera vez. Un volumen sin montar se ve vacío, así que el conserje no toca nada: monte el volumen correcto o revise STORAGE_DIR.";
  if (/is empty but/.test(refused)) return "La tabla de imágenes está vacía pero la carpeta tiene archivos: probablemente DATABASE_URL apunta a otra base. El conserje no mueve ninguna huérfana hasta que la tabla tenga filas.";
  if (/JANITOR_MAX_ORPHANS/.test(refused)) return "Hay más huérfanas que JANITOR_MAX_ORPHANS: algo cambió en bloque (una ruta, una base restaurada). No se movió ninguna; revise la lista y, si es correcto, ejecute «imagenes janitor --once --force».";
  return "El conserje se negó a trabajar: " + refused;
}

function tablaInforme(rep) {
  const t = el("table", { class: "informe" });
  for (const [k, etiqueta] of campos) {
    if (rep[k] === undefined) continue;
    t.append(el("tr", { "data-campo": k }, el("th", { text: etiqueta }), el("td", { text: String(rep[k]) })));
  }
  const out = el("div", {});
  if (rep.refused) out.append(el("p", { class: "error rechazo", role: "alert", text: explicar(rep.refused) }));
  if (rep.error) out.append(el("p", { class: "error", text: "La pasada se detuvo por un error: " + rep.error }));
  out.append(t);
  if (rep.items) {
    for (const [tipo, items] of Object.entries(rep.items)) {
      const etiqueta = (campos.find(([k]) => k === tipo) || [tipo, tipo])[1];
      out.append(el("h3", { text: `${etiqueta}: ${items.length}` }),
        el("ul", { class: "items" }, ...items.map((it) => el("li", { text: [it.url, it.imagen_id ? "imagen " + it.imagen_id : "", it.papelera_id ? "papelera " + it.papelera_id : ""].filter(Boolean).join(" · ") }))));
    }
  }
  return out;
}

async function cargarConserje() {
  const r = await api("GET", API + "/conserje");
  if (r.status !== 200) {
    aviso(r.body.mensaje || "No se pudo leer el informe del conserje", "error");
    return;
  }
  const b = r.body;
  const tarjeta = (t, v) => el("div", { class: "metrica" }, el("span", { text: t }), el("strong", { text: v }));
  $("metricas").replaceChildren(
    tarjeta("Imágenes", String(b.imagenes)),
    tarjeta("En la papelera", `${b.papelera.entradas} (${fmtBytes(b.papelera.bytes)})`),
    tarjeta("La más antigua", fmtFecha(b.papelera.mas_antigua)),
    tarjeta("Retención", `${b.retencion_horas} h`));
  $("ultima").replaceChildren(b.ultimo
    ? el("div", {}, el("p", { text: "Terminó el " + fmtFecha(b.fecha) }), tablaInforme(b.ultimo))
    : el("p", { class: "vacio", text: "El conserje todavía no hizo ninguna pasada real." }));
}

async function simular() {
  $("simular").disabled = true;
  aviso("Simulando una pasada…", "ok");
  const r = await api("POST", API + "/conserje/simular?detalle=true");
  $("simular").disabled = false;
  if (r.status === 409) {
    aviso(r.body.mensaje, "error");
    return;
  }
  if (r.status !== 200) {
    aviso(r.body.mensaje || "La simulación falló", "error");
    return;
  }
  aviso(r.body.refused ? "La simulación terminó con un rechazo (vea abajo)" : "Simulación lista: no se cambió nada", r.body.refused ? "error" : "ok");
  $("titulo-simulacion").hidden = false;
  $("simulacion").replaceChildren(tablaInforme(r.body));
}

// ---- Wiring ------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  bulk = Number(document.body.dataset.bulk) || 0;
  for (const b of document.querySelectorAll("nav [data-vista]")) b.addEventListener("click", () => mostrar(b.dataset.vista));
  $("filtro").addEventListener("submit", (ev) => { ev.preventDefault(); cargarImagenes(true); });
  $("f-sin").addEventListener("change", () => { $("f-producto").disabled = $("f-sin").checked; });
  $("eliminar").addEventListener("click", eliminarSeleccion);
  $("mas-imagenes").addEventListener("click", () => cargarImagenes(false));
  $("mas-papelera").addEventListener("click", () => cargarPapelera(false));
  $("restaurar").addEventListener("click", () => restaurar([...pap.sel]));
  $("simular").addEventListener("click", simular);
  $("archivo").addEventListener("change", (ev) => subir(ev.target.files));
  const zona = $("zona");
  for (const t of ["dragenter", "dragover"]) zona.addEventListener(t, (ev) => { ev.preventDefault(); zona.classList.add("encima"); });
  for (const t of ["dragleave", "drop"]) zona.addEventListener(t, () => zona.classList.remove("encima"));
  zona.addEventListener("drop", (ev) => { ev.preventDefault(); subir(ev.dataTransfer.files); });
  mostrar("imagenes");
});
