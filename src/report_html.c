/* report_html.c - the report as one self-contained HTML page.
 *
 * One file that an auditor can open anywhere, offline, and mail on: the
 * summary per tenant, a chart of conversions over time (inline SVG), and a
 * table of the accounts that sorts (click a heading) and filters (a text box,
 * tenant, state) with a little inline JavaScript; without JavaScript the
 * table is all there, unsorted and unfiltered.
 *
 * Nothing is fetched, ever: no external style sheet, script, font or image,
 * and a Content-Security-Policy (default-src 'none', the one style sheet and
 * the one script allowed by their SHA-256) makes the browser refuse anything
 * else, should a text from AD ever get past the escaping. Every text from the
 * files goes through esc(): & < > " ' become entities, control characters and
 * bytes that are not UTF-8 become U+FFFD; the page says <meta charset="utf-8">
 * as its first element, so that Zoë and 李雷 come out right. */
#include "compat.h"

#include "report_p.h"

/* ---------------------------------------------------------------- escaping */

static void esc(struct strbuf *out, const char *s)
{
    /* straight into the buffer, grown once for the worst case (&quot; is
     * six bytes for one): a page of 100k accounts escapes millions */
    size_t len = strlen(s);
    strbuf_grow(out, 6 * len);
    const unsigned char *p = (const unsigned char *)s;
    char *d = out->buf + out->len;
    while (*p) {
        unsigned char c = *p;
        if (c >= 0x20 && c < 0x7f && c != '&' && c != '<' && c != '>' && c != '"' && c != '\'') {
            *d++ = (char)c;
            p++;
            continue;
        }
        const char *entity = c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;"
                           : c == '"' ? "&quot;" : c == '\'' ? "&#39;" : NULL;
        if (entity) {
            size_t k = strlen(entity);
            memcpy(d, entity, k);
            d += k;
            p++;
        } else if (c >= 0x80) {
            d += utf8_repair_char(d, &p);   /* U+FFFD for a byte that is not UTF-8 */
        } else if (c == '\n' || c == '\t') {
            *d++ = (char)c;
            p++;
        } else {
            memcpy(d, UTF8_REPLACEMENT, 3);   /* a control character: U+FFFD as well */
            d += 3;
            p++;
        }
    }
    out->len = (size_t)(d - out->buf);
    out->buf[out->len] = '\0';
}

/* 2026-11-18T11:06:40Z shown as "2026-11-18 11:06" (the full time is the
 * cell's data-v, which the table sorts by, and its title) */
static void time_cell(struct strbuf *out, int64_t t)
{
    char iso[21];
    report_time_text(t, iso);
    if (!*iso) {
        strbuf_addstr(out, "<td data-v=\"\"></td>");
        return;
    }
    /* <td data-v="ISO" title="ISO">YYYY-MM-DD HH:MM</td>, without printf: one per cell */
    strbuf_addstr(out, "<td data-v=\"");
    strbuf_add(out, iso, 20);
    strbuf_addstr(out, "\" title=\"");
    strbuf_add(out, iso, 20);
    strbuf_addstr(out, "\">");
    strbuf_add(out, iso, 10);
    strbuf_addch(out, ' ');
    strbuf_add(out, iso + 11, 5);
    strbuf_addstr(out, "</td>");
}

/* Per-row pieces without printf: a page of 100k rows would spend most of
 * its time in vsnprintf otherwise. */
static void cat3(struct strbuf *out, const char *a, const char *b, const char *c)
{
    strbuf_addstr(out, a);
    strbuf_addstr(out, b);
    strbuf_addstr(out, c);
}

static void add_count(struct strbuf *out, size_t n)
{
    char digits[24], *p = digits + sizeof(digits);
    do
        *--p = (char)('0' + n % 10);
    while (n /= 10);
    strbuf_add(out, p, (size_t)(digits + sizeof(digits) - p));
}

static void td(struct strbuf *out, const char *cls, const char *text)
{
    if (cls)
        cat3(out, "<td class=\"", cls, "\">");
    else
        strbuf_addstr(out, "<td>");
    esc(out, text);
    strbuf_addstr(out, "</td>");
}

/* ------------------------------------------------------------- style, code */

static const char css[] =
    ":root{--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#f6f7f9;--card:#fff;color-scheme:light}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;font:14px/1.45 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Noto Sans\","
    "\"Liberation Sans\",\"DejaVu Sans\",Arial,sans-serif;color:var(--fg);background:var(--bg)}\n"
    "header{background:#1e293b;color:#f8fafc;padding:16px 28px}\n"
    "header h1{margin:0;font-size:20px;font-weight:600}\n"
    "header p{margin:4px 0 0;color:#cbd5e1;font-size:13px}\n"
    "main{padding:20px 28px 8px}\n"
    "section{margin-bottom:24px}\n"
    "h2{font-size:16px;margin:0 0 10px}\n"
    "h3{font-size:13px;margin:12px 0 4px;color:var(--muted);font-weight:600}\n"
    ".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(440px,1fr));gap:16px}\n"
    ".card,.panel{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:14px 18px}\n"
    ".card h2 small{font-weight:400;color:var(--muted);font-size:13px;margin-left:6px}\n"
    ".figures{display:flex;flex-wrap:wrap;gap:8px}\n"
    ".fig{flex:1 1 84px;border-radius:6px;padding:6px 10px;background:#f1f5f9}\n"
    ".fig b{display:block;font-size:22px;font-weight:600;font-variant-numeric:tabular-nums}\n"
    ".fig span{font-size:12px;color:#475569}\n"
    ".fig.converted{background:#e0e7ff}.fig.accepted{background:#dcfce7}.fig.invited{background:#dbeafe}"
    ".fig.blocked{background:#fee2e2}.fig.reverted{background:#fef3c7}\n"
    ".reasons{margin:0;padding-left:0;list-style:none}.reasons li{padding:1px 0}"
    ".reasons b{display:inline-block;min-width:2.5em;font-variant-numeric:tabular-nums}\n"
    ".note{color:var(--muted);font-size:12px;margin:10px 0 0}\n"
    ".legend{display:flex;flex-wrap:wrap;gap:14px;font-size:12px;color:#475569;margin:6px 0 0}\n"
    "svg text{font:11px system-ui,\"Segoe UI\",Roboto,\"Noto Sans\",\"DejaVu Sans\",Arial,sans-serif;"
    "fill:#64748b}\n"
    "svg .grid{stroke:#e2e8f0}svg .axis{stroke:#94a3b8}svg .bar:hover{opacity:.8}\n"
    "svg .none{font-size:14px;fill:#94a3b8}\n"
    ".controls{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin-bottom:10px}\n"
    ".controls input,.controls select{font:inherit;padding:5px 8px;border:1px solid #cbd5e1;"
    "border-radius:6px;background:#fff}\n"
    ".controls input{flex:0 1 360px}\n"
    "#shown{color:var(--muted);font-size:13px;margin-left:auto}\n"
    ".wrap{overflow-x:auto;background:var(--card);border:1px solid var(--line);border-radius:8px}\n"
    "table{border-collapse:collapse;width:100%;font-size:13px}\n"
    "th,td{padding:6px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}\n"
    "tbody tr:last-child td{border-bottom:0}tbody tr:hover{background:#f8fafc}\n"
    "th{background:#f1f5f9;font-weight:600;white-space:nowrap;cursor:pointer;user-select:none;"
    "position:sticky;top:0}\n"
    "th:hover{background:#e2e8f0}\n"
    "th[aria-sort=ascending]::after{content:\" \\25B2\";font-size:9px}"
    "th[aria-sort=descending]::after{content:\" \\25BC\";font-size:9px}\n"
    "td[data-v]{white-space:nowrap;font-variant-numeric:tabular-nums}\n"
    "td.last small{display:block;color:var(--muted)}td.rule{white-space:nowrap}\n"
    "td.name{min-width:9em;overflow-wrap:anywhere}td.upn{color:#334155;overflow-wrap:break-word}\n"
    "td.err{color:#991b1b;min-width:10em}\n"
    ".st{display:inline-block;padding:0 8px;border-radius:999px;font-size:12px;font-weight:500;"
    "background:#f1f5f9;color:#334155;white-space:nowrap}\n"
    ".st.accepted{background:#dcfce7;color:#166534}.st.invited{background:#dbeafe;color:#1e40af}"
    ".st.blocked{background:#fee2e2;color:#991b1b}.st.reverted{background:#fef3c7;color:#92400e}"
    ".st.unmapped{background:#f3e8ff;color:#6b21a8}\n"
    ".o-done{color:#166534}.o-blocked,.o-failed{color:#991b1b}.o-dry-run,.o-skipped{color:#64748b}\n"
    "details summary{cursor:pointer;color:#2563eb;white-space:nowrap}\n"
    "details[open]{width:16em;white-space:normal}\n"
    "details dl{margin:4px 0;font-size:12px}\n"
    "details dt{color:var(--muted);font-size:11px;margin-top:3px}details dd{margin:0;overflow-wrap:anywhere}\n"
    "details ol{margin:4px 0 0;padding-left:18px;font-size:12px}details li{margin-bottom:3px}\n"
    "#none{padding:16px;color:var(--muted)}\n"
    "footer{padding:0 28px 20px;color:var(--muted);font-size:12px}\n"
    "@media print{.controls{display:none}th{position:static}body{background:#fff}}\n";

/* Sort on a heading's click (again: the other way), filter on typing and on
 * the two lists; the URL's #q=..&tenant=..&state=..&sort=N&dir=desc sets the
 * same (a link to a view, and how the test drives it). Rows keep their text
 * lower-cased once: filtering 100k rows must not walk the DOM each key. */
static const char js[] =
    "(function(){\n"
    "'use strict';\n"
    "var table=document.getElementById('accounts');if(!table)return;\n"
    "var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows);\n"
    "var q=document.getElementById('q'),ft=document.getElementById('f-tenant'),"
    "fs=document.getElementById('f-state'),shown=document.getElementById('shown'),"
    "none=document.getElementById('none');\n"
    "var text=new Map();rows.forEach(function(r){text.set(r,r.textContent.toLowerCase());});\n"
    "var coll=new Intl.Collator(undefined,{numeric:true,sensitivity:'base'});\n"
    "function filter(){var s=q.value.trim().toLowerCase(),t=ft.value,st=fs.value,n=0;\n"
    " rows.forEach(function(r){var ok=(!t||r.getAttribute('data-tenant')===t)&&"
    "(!st||r.getAttribute('data-state')===st)&&(!s||text.get(r).indexOf(s)>=0);"
    "r.hidden=!ok;if(ok)n++;});\n"
    " shown.textContent=n===rows.length?n+(n===1?' account':' accounts'):n+' of '+rows.length+' accounts';\n"
    " none.hidden=n!==0;}\n"
    "var heads=table.tHead.rows[0].cells;\n"
    "function sort(i,dir){var th=heads[i],num=th.getAttribute('data-type')==='num';\n"
    " if(!dir)dir=th.getAttribute('aria-sort')==='ascending'?'descending':'ascending';\n"
    " for(var k=0;k<heads.length;k++)heads[k].removeAttribute('aria-sort');\n"
    " th.setAttribute('aria-sort',dir);var m=dir==='ascending'?1:-1;\n"
    " var keyed=rows.map(function(r,k){var c=r.cells[i],v=c.hasAttribute('data-v')?"
    "c.getAttribute('data-v'):c.textContent;return{r:r,v:num?parseFloat(v)||0:v,k:k};});\n"
    " keyed.sort(function(a,b){if(!num&&(a.v===''||b.v===''))return(a.v==='')-(b.v==='')||a.k-b.k;\n"
    "  return(num?a.v-b.v:coll.compare(a.v,b.v))*m||a.k-b.k;});\n"
    " var f=document.createDocumentFragment();rows=keyed.map(function(e){f.appendChild(e.r);return e.r;});\n"
    " body.appendChild(f);}\n"
    "for(var i=0;i<heads.length;i++)(function(i){var th=heads[i];th.tabIndex=0;\n"
    " th.addEventListener('click',function(){sort(i);});\n"
    " th.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();sort(i);}});"
    "})(i);\n"
    "q.addEventListener('input',filter);ft.addEventListener('change',filter);"
    "fs.addEventListener('change',filter);\n"
    "var h={};location.hash.replace(/^#/,'').split('&').forEach(function(p){var e=p.indexOf('=');"
    "if(e>0)h[decodeURIComponent(p.slice(0,e))]=decodeURIComponent(p.slice(e+1).replace(/\\+/g,' '));});\n"
    "if(h.q)q.value=h.q;if(h.tenant)ft.value=h.tenant;if(h.state)fs.value=h.state;\n"
    "if(h.sort&&heads[+h.sort])sort(+h.sort,h.dir==='desc'?'descending':'ascending');\n"
    "filter();\n"
    "})();\n";

/* ------------------------------------------------------------------ summary */

static void figure(struct strbuf *out, const char *cls, size_t n, const char *label)
{
    strbuf_addf(out, "<div class=\"fig %s\"><b>%zu</b><span>%s</span></div>", cls, n, label);
}

static void period_text(struct strbuf *out, const struct report *r)
{
    const struct report_filter *f = &r->filter;
    char a[21], b[21];
    report_time_text(f->since, a);
    report_time_text(f->until, b);
    if (f->has_since && f->has_until)
        strbuf_addf(out, "%s to %s", a, b);
    else if (f->has_since)
        strbuf_addf(out, "since %s", a);
    else if (f->has_until)
        strbuf_addf(out, "until %s", b);
    else
        strbuf_addstr(out, "all time");
}

static void summary_card(struct strbuf *out, const struct report *r, const struct report_tenant *t)
{
    strbuf_addstr(out, "<article class=\"card\"><h2>");
    esc(out, t->name);
    strbuf_addstr(out, "<small>");
    esc(out, t->cloud);
    if (*t->tenant_id) {
        strbuf_addstr(out, " \xc2\xb7 ");
        esc(out, t->tenant_id);
    }
    strbuf_addstr(out, "</small></h2>\n<div class=\"figures\">");
    const size_t *s = t->states;
    figure(out, "converted", report_converted(s), "converted");
    figure(out, "accepted", s[MAP_STATE_ACCEPTED], "accepted");
    figure(out, "invited", s[MAP_STATE_INVITED], "pending acceptance");
    figure(out, "blocked", s[MAP_STATE_BLOCKED], "blocked");
    figure(out, "reverted", s[MAP_STATE_REVERTED], "reverted");
    figure(out, "gone", s[MAP_STATE_GONE], "gone");
    strbuf_addstr(out, "</div>\n");
    if (t->nreasons) {
        strbuf_addstr(out, "<h3>Blocked by reason</h3><ul class=\"reasons\">");
        for (size_t i = 0; i < t->nreasons; i++) {
            strbuf_addf(out, "<li><b>%zu</b>", t->reasons[i].count);
            esc(out, t->reasons[i].reason);
            strbuf_addstr(out, "</li>");
        }
        strbuf_addstr(out, "</ul>\n");
    }
    strbuf_addf(out, "<p class=\"note\">%zu accounts shown", t->nrows);
    if (s[MAP_STATE_PENDING])
        strbuf_addf(out, " (%zu pending: decided, not converted yet)", s[MAP_STATE_PENDING]);
    if (s[REPORT_STATE_UNMAPPED])
        strbuf_addf(out, " (%zu unmapped: in the audit trail only)", s[REPORT_STATE_UNMAPPED]);
    strbuf_addstr(out, ". Actions ");
    strbuf_addstr(out, r->filter.run_id ? "in this run" : "in the period");
    strbuf_addstr(out, ":");
    bool any = false;
    for (int o = 0; o < REPORT_OUTCOME_COUNT; o++)
        if (t->outcomes[o]) {
            strbuf_addf(out, "%s %zu %s", any ? "," : "", t->outcomes[o],
                        report_outcome_name((enum report_outcome)o));
            any = true;
        }
    strbuf_addstr(out, any ? "." : " none.");
    size_t all = 0;
    for (unsigned k = 0; k < REPORT_STATE_COUNT; k++)
        all += t->totals[k];
    if (all != t->nrows)
        strbuf_addf(out, " The tenant has %zu accounts in all: %zu converted, %zu blocked.", all,
                    report_converted(t->totals), t->totals[MAP_STATE_BLOCKED]);
    strbuf_addstr(out, "<br>Mapping file ");
    esc(out, t->mapping_file);
    strbuf_addstr(out, ", audit trail ");
    esc(out, t->audit_file);
    strbuf_addstr(out, ".</p></article>\n");
}

/* -------------------------------------------------------------------- chart */

static const char *const palette[] = {
    "#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#db2777", "#4b5563",
};

enum unit { UNIT_DAY, UNIT_WEEK, UNIT_MONTH };

static int64_t month_of(int64_t day)
{
    char d[11];
    report_day_text(day, d);
    return (int64_t)((d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 + (d[3] - '0')) * 12 +
           (d[5] - '0') * 10 + (d[6] - '0') - 1;
}

static int64_t monday_of(int64_t day)
{
    return day - (((day + 3) % 7) + 7) % 7;   /* 1970-01-01 was a Thursday */
}

static int64_t bucket_of(enum unit u, int64_t day, int64_t first)
{
    switch (u) {
    case UNIT_DAY: return day - first;
    case UNIT_WEEK: return (monday_of(day) - monday_of(first)) / 7;
    default: return month_of(day) - month_of(first);
    }
}

/* The label of bucket b: its first day (a month: YYYY-MM). */
static void bucket_label(enum unit u, int64_t b, int64_t first, char out[11])
{
    if (u == UNIT_DAY) {
        report_day_text(first + b, out);
    } else if (u == UNIT_WEEK) {
        report_day_text(monday_of(first) + 7 * b, out);
    } else {
        int64_t m = month_of(first) + b;
        snprintf(out, 11, "%04d-%02d", (int)(m / 12), (int)(m % 12 + 1));
    }
}

static void chart(struct strbuf *out, const struct report *r)
{
    int64_t first = INT64_MAX, last = INT64_MIN;
    for (size_t ti = 0; ti < r->ntenants; ti++) {
        const struct report_tenant *t = &r->tenants[ti];
        if (t->ndays) {
            first = t->days[0].day < first ? t->days[0].day : first;
            last = t->days[t->ndays - 1].day > last ? t->days[t->ndays - 1].day : last;
        }
    }
    const struct report_filter *f = &r->filter;
    if (first != INT64_MAX && !f->run_id) {
        /* show the whole period asked for, unless it is absurdly long */
        if (f->has_since && f->since / 86400 < first && last - f->since / 86400 <= 3660)
            first = f->since / 86400;
        if (f->has_until && f->until / 86400 > last && f->until / 86400 - first <= 3660 &&
            f->until / 86400 <= r->generated / 86400)
            last = f->until / 86400;
    }
    const double W = 960, H = 190, L = 48, R = 944, T = 10, B = 160;
    strbuf_addstr(out, "<svg id=\"chart\" viewBox=\"0 0 960 190\" "
                       "width=\"100%\" role=\"img\" aria-labelledby=\"chart-title\">"
                       "<title id=\"chart-title\">Conversions done over time");
    strbuf_addstr(out, "</title>\n");
    if (first == INT64_MAX) {
        strbuf_addf(out, "<line class=\"axis\" x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\"/>", L, B, R, B);
        strbuf_addf(out, "<text class=\"none\" x=\"%g\" y=\"%g\" text-anchor=\"middle\">"
                         "No conversions in this period.</text></svg>\n", W / 2, H / 2);
        return;
    }
    enum unit u = last - first < 62 ? UNIT_DAY : last - first < 62 * 7 ? UNIT_WEEK : UNIT_MONTH;
    size_t nb = (size_t)bucket_of(u, last, first) + 1;
    size_t nt = r->ntenants;
    size_t *count = xcalloc(nb * nt, sizeof(*count));
    size_t *total = xcalloc(nb, sizeof(*total));
    size_t max = 0;
    for (size_t ti = 0; ti < nt; ti++)
        for (size_t i = 0; i < r->tenants[ti].ndays; i++) {
            const struct report_day *d = &r->tenants[ti].days[i];
            if (d->day < first || d->day > last)
                continue;
            size_t b = (size_t)bucket_of(u, d->day, first);
            count[b * nt + ti] += d->count;
            total[b] += d->count;
            max = total[b] > max ? total[b] : max;
        }
    /* a step of 1, 2 or 5 times a power of ten, at most 5 steps to the top */
    size_t step = 1;
    for (size_t p = 1;; p *= 10) {
        if ((max + p - 1) / p <= 5) { step = p; break; }
        if ((max + 2 * p - 1) / (2 * p) <= 5) { step = 2 * p; break; }
        if ((max + 5 * p - 1) / (5 * p) <= 5) { step = 5 * p; break; }
    }
    size_t top = (max + step - 1) / step * step;
    if (!top)
        top = step;
    double scale = (B - T) / (double)top;
    for (size_t v = 0; v <= top; v += step) {
        double y = B - (double)v * scale;
        strbuf_addf(out, "<line class=\"%s\" x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\"/>"
                         "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\">%zu</text>\n",
                    v ? "grid" : "axis", L, y, R, y, L - 6, y + 4, v);
    }
    /* bars of most of their slot, but not slabs when there are few */
    double slot = (R - L) / (double)nb, bar = slot * 0.78 > 1 ? slot * 0.78 : 1;
    bar = bar > 48 ? 48 : bar;
    static const char *const unit_name[] = { "day", "week from", "month" };
    for (size_t b = 0; b < nb; b++) {
        char label[11];
        bucket_label(u, (int64_t)b, first, label);
        double x = L + slot * (double)b + (slot - bar) / 2, y = B;
        for (size_t ti = 0; ti < nt; ti++) {
            size_t c = count[b * nt + ti];
            if (!c)
                continue;
            double h = (double)c * scale;
            y -= h;
            strbuf_addf(out, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                             "fill=\"%s\"><title>", x, y, bar, h, palette[ti % ARRAY_SIZE(palette)]);
            esc(out, r->tenants[ti].name);
            strbuf_addf(out, ", %s %s: %zu conversion%s</title></rect>\n", unit_name[u], label, c,
                        c == 1 ? "" : "s");
        }
    }
    /* about ten labels under the axis, evenly spread */
    size_t every = (nb + 9) / 10;
    for (size_t b = 0; b < nb; b += every) {
        char label[11];
        bucket_label(u, (int64_t)b, first, label);
        strbuf_addf(out, "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%s</text>\n",
                    L + slot * ((double)b + 0.5), B + 16, label);
    }
    strbuf_addf(out, "<text x=\"%g\" y=\"%g\" text-anchor=\"end\">conversions per %s (UTC)</text>\n", R,
                H - 4, u == UNIT_DAY ? "day" : u == UNIT_WEEK ? "week" : "month");
    strbuf_addstr(out, "</svg>\n");
    free(count);
    free(total);
}

/* -------------------------------------------------------------------- table */

static const char *const headings[] = {
    "Tenant", "State", "Display name", "UPN", "Rule", "Converted", "Last action", "Error", "History",
};

static void history(struct strbuf *out, const struct report_row *row)
{
    strbuf_addstr(out, "<td data-v=\"");
    add_count(out, row->nevents);
    strbuf_addstr(out, "\"><details><summary>");
    add_count(out, row->nevents);
    strbuf_addstr(out, row->nevents == 1 ? " action</summary><dl>" : " actions</summary><dl>");
    const char *const labels[] = { "Anchor", "objectGUID", "Cloud id", "DN", "Decision", "userType",
                                   "External state", "Invitation", "First change", "Last change" };
    char first[21], latest[21];
    report_time_text(row->first_change, first);
    report_time_text(row->last_change, latest);
    const char *values[] = { row->anchor, row->object_guid, row->cloud_id, row->dn, row->decision,
                             row->user_type, row->external_state, row->invitation_id, first, latest };
    for (size_t i = 0; i < ARRAY_SIZE(labels); i++) {
        if (!*values[i])
            continue;
        cat3(out, "<dt>", labels[i], "</dt><dd>");
        esc(out, values[i]);
        strbuf_addstr(out, "</dd>");
    }
    strbuf_addstr(out, "</dl>");
    if (row->history) {
        strbuf_addstr(out, "<ol>");
        for (const struct report_event *e = row->history; e; e = e->next) {
            char when[21];
            report_time_text(e->time, when);
            cat3(out, "<li>", when, " ");
            esc(out, e->action);
            strbuf_addstr(out, " <span class=\"o-");
            esc(out, e->outcome);
            strbuf_addstr(out, "\">");
            esc(out, e->outcome);
            strbuf_addstr(out, "</span>");
            if (*e->user_type_before || *e->user_type_after) {
                strbuf_addstr(out, ", userType ");
                esc(out, *e->user_type_before ? e->user_type_before : "\xe2\x80\x94");
                strbuf_addstr(out, " \xe2\x86\x92 ");
                esc(out, *e->user_type_after ? e->user_type_after : "\xe2\x80\x94");
            }
            if (*e->state_after) {
                strbuf_addstr(out, ", ");
                esc(out, e->state_after);
            }
            if (*e->run) {
                strbuf_addstr(out, ", run ");
                esc(out, e->run);
            }
            if (*e->request_id) {
                strbuf_addstr(out, ", request-id ");
                esc(out, e->request_id);
            }
            if (*e->error) {
                strbuf_addstr(out, ": ");
                esc(out, e->error);
            }
            strbuf_addstr(out, "</li>");
        }
        strbuf_addstr(out, "</ol>");
    }
    strbuf_addstr(out, "</details></td>");
}

static void row_html(struct strbuf *out, const struct report_tenant *t, const struct report_row *row)
{
    const char *state = report_state_name(row->state);
    strbuf_addstr(out, "<tr data-tenant=\"");
    esc(out, t->name);
    cat3(out, "\" data-state=\"", state, "\">");
    td(out, NULL, t->name);
    cat3(out, "<td><span class=\"st ", state, "\">");
    cat3(out, state, "</span></td>", "");
    td(out, "name", row->display_name);
    td(out, "upn", row->upn);
    td(out, "rule", row->rule);
    time_cell(out, row->converted_at);
    /* the last action, sorted by its time */
    const struct report_event *last = row->history_tail;
    if (last) {
        char iso[21];
        report_time_text(last->time, iso);
        cat3(out, "<td class=\"last\" data-v=\"", iso, "\">");
        esc(out, last->action);
        strbuf_addstr(out, " <span class=\"o-");
        esc(out, last->outcome);
        strbuf_addstr(out, "\">");
        esc(out, last->outcome);
        strbuf_addstr(out, "</span><small>");
        strbuf_add(out, iso, 10);
        strbuf_addch(out, ' ');
        strbuf_add(out, iso + 11, 5);
        strbuf_addstr(out, "</small></td>");
    } else {
        strbuf_addstr(out, "<td class=\"last\" data-v=\"\"></td>");
    }
    td(out, "err", row->last_error);
    history(out, row);
    strbuf_addstr(out, "</tr>\n");
}

static void table(struct strbuf *out, const struct report *r)
{
    size_t n = 0;
    unsigned present = 0;
    for (size_t ti = 0; ti < r->ntenants; ti++) {
        n += r->tenants[ti].nrows;
        for (unsigned s = 0; s < REPORT_STATE_COUNT; s++)
            if (r->tenants[ti].states[s])
                present |= 1u << s;
    }
    strbuf_addstr(out, "<div class=\"controls\"><input type=\"search\" id=\"q\" "
                       "placeholder=\"Filter: name, UPN, rule, error, request-id\" aria-label=\"Filter the accounts\">"
                       "<select id=\"f-tenant\" aria-label=\"Tenant\"><option value=\"\">All tenants</option>");
    for (size_t ti = 0; ti < r->ntenants; ti++) {
        strbuf_addstr(out, "<option value=\"");
        esc(out, r->tenants[ti].name);
        strbuf_addstr(out, "\">");
        esc(out, r->tenants[ti].name);
        strbuf_addstr(out, "</option>");
    }
    strbuf_addstr(out, "</select><select id=\"f-state\" aria-label=\"State\"><option value=\"\">All states</option>");
    for (unsigned s = 0; s < REPORT_STATE_COUNT; s++)
        if (present & (1u << s))
            strbuf_addf(out, "<option>%s</option>", report_state_name(s));
    strbuf_addf(out, "</select><span id=\"shown\" aria-live=\"polite\">%zu account%s</span></div>\n", n,
                n == 1 ? "" : "s");
    strbuf_addstr(out, "<div class=\"wrap\"><table id=\"accounts\"><thead><tr>");
    for (size_t i = 0; i < ARRAY_SIZE(headings); i++)
        strbuf_addf(out, "<th scope=\"col\"%s>%s</th>", i + 1 == ARRAY_SIZE(headings) ? " data-type=\"num\"" : "",
                    headings[i]);
    strbuf_addstr(out, "</tr></thead>\n<tbody>\n");
    for (size_t ti = 0; ti < r->ntenants; ti++)
        for (size_t i = 0; i < r->tenants[ti].nrows; i++)
            row_html(out, &r->tenants[ti], r->tenants[ti].rows[i]);
    strbuf_addf(out, "</tbody></table><p id=\"none\"%s>No account matches.</p></div>\n", n ? " hidden" : "");
}

/* --------------------------------------------------------------------- page */

void report_html(const struct report *r, struct strbuf *out)
{
    char css_hash[45], js_hash[45], generated[21];
    report_sha256_base64(css, sizeof(css) - 1, css_hash);
    report_sha256_base64(js, sizeof(js) - 1, js_hash);
    report_time_text(r->generated, generated);
    strbuf_addstr(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    strbuf_addf(out, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                     "style-src 'sha256-%s'; script-src 'sha256-%s'; img-src data:; base-uri 'none'; "
                     "form-action 'none'\">\n", css_hash, js_hash);
    strbuf_addstr(out, "<meta name=\"referrer\" content=\"no-referrer\">\n<meta name=\"generator\" content=\"dualsync\">\n"
                       "<title>dualsync report: ");
    for (size_t i = 0; i < r->ntenants; i++) {
        if (i)
            strbuf_addstr(out, ", ");
        esc(out, r->tenants[i].name);
    }
    strbuf_addf(out, " (%s)</title>\n<style>%s</style>\n</head>\n<body>\n", generated, css);

    strbuf_addstr(out, "<header><h1>");
    strbuf_addstr(out, r->filter.run_id ? "Accounts touched by one run" : "Converted accounts");
    strbuf_addf(out, "</h1><p>dualsync report, generated %s (UTC). Period: ", generated);
    period_text(out, r);
    strbuf_addstr(out, ". States: ");
    if (!r->filter.states) {
        strbuf_addstr(out, "all");
    } else {
        bool first = true;
        for (unsigned s = 0; s < REPORT_STATE_COUNT; s++)
            if (r->filter.states & (1u << s)) {
                strbuf_addf(out, "%s%s", first ? "" : ", ", report_state_name(s));
                first = false;
            }
    }
    if (r->filter.run_id) {
        strbuf_addstr(out, ". Run: ");
        esc(out, r->filter.run_id);
    }
    strbuf_addstr(out, ".</p></header>\n<main>\n");

    strbuf_addstr(out, "<section id=\"summary\" aria-label=\"Summary\"><div class=\"cards\">\n");
    for (size_t i = 0; i < r->ntenants; i++)
        summary_card(out, r, &r->tenants[i]);
    if (!r->ntenants)
        strbuf_addstr(out, "<p>The configuration has no tenant.</p>\n");
    strbuf_addstr(out, "</div></section>\n");

    strbuf_addstr(out, "<section id=\"conversions\" class=\"panel\"><h2>Conversions over time</h2>\n");
    chart(out, r);
    strbuf_addstr(out, "<p class=\"legend\">");
    for (size_t i = 0; i < r->ntenants; i++) {
        /* the colour is an SVG attribute: a style attribute would need 'unsafe-inline' */
        strbuf_addf(out, "<span><svg width=\"10\" height=\"10\" aria-hidden=\"true\"><rect width=\"10\" "
                         "height=\"10\" rx=\"2\" fill=\"%s\"/></svg> ", palette[i % ARRAY_SIZE(palette)]);
        esc(out, r->tenants[i].name);
        strbuf_addstr(out, "</span>");
    }
    strbuf_addstr(out, "</p></section>\n");

    strbuf_addstr(out, "<section id=\"list\"><h2>Accounts</h2>\n");
    table(out, r);
    strbuf_addstr(out, "</section>\n</main>\n<footer>Times are UTC. State is the current one "
                       "(mapping file); history, last action and the chart come from the audit trail");
    strbuf_addstr(out, r->filter.run_id ? ", this run's entries only" : ", within the period");
    strbuf_addstr(out, ". Converted = invited (pending acceptance) + accepted.</footer>\n");
    strbuf_addf(out, "<script>%s</script>\n</body>\n</html>\n", js);
}
