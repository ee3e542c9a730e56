/* test_report.c — the batch report's Markdown and HTML from a handmade report document:
 * tables with each gate ✔/✘, a self-contained page (no script, nothing loaded), SVG that
 * parses as XML, and a headless Chromium screenshot that is not blank and shows the charts'
 * colours. The Chromium check skips, saying so, where chromium or python3 is missing.
 */
#include "../test_util.h"

#include "report/report.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A report of one model, four jobs: figures, gates, marks, per-layer errors, Δacc with CIs. */
static json_t *sample_report(void)
{
    json_t *jobs = json_array();
    const char *types[] = {"Q8_0", "Q4_K_M", "Q4_K_M", "Q2_K"}, *methods[] = {"rtn", "rtn", "gptq", "rtn"};
    const double bpw[] = {8.5, 4.875, 4.875, 3.08}, kld[] = {0.00002, 0.0025, 0.0015, 0.036};
    for (int i = 0; i < 4; i++) {
        json_t *layers = json_array();
        for (int b = 0; i == 2 && b < 4; b++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%d.attn_q.weight", b);
            json_array_append_new(layers, json_pack("{s:s, s:f}", "tensor", name, "rel_error", 0.005 + 0.004 * b));
        }
        json_array_append_new(
            jobs, json_pack("{s:i, s:s, s:s, s:s, s:s, s:{s:f, s:f, s:f, s:f, s:f, s:f, s:[f, f], s:s, s:f}, "
                            "s:[{s:s, s:s, s:s, s:f, s:f, s:b}], s:b, s:b, s:b, s:o}",
                            "index", i, "job", "x", "model", "tl3m", "method", methods[i], "type", types[i], "figures",
                            "bytes", 2e6, "bits_per_weight", bpw[i], "ppl_ratio", 1.0 + kld[i], "kld_mean", kld[i],
                            "same_top_pct", 99.0 - 400 * kld[i], "delta_acc", -30 * kld[i], "delta_acc_ci",
                            -30 * kld[i] - 0.8, -30 * kld[i] + 0.8, "verdict", i == 3 ? "worse" : "same", "ece_post_t",
                            0.03, "gates", "gate", "kld_mean <= 0.01", "figure", "kld_mean", "op", "<=", "threshold",
                            0.01, "value", kld[i], "pass", kld[i] <= 0.01, "gates_pass", kld[i] <= 0.01, "viable",
                            i == 2, "pareto", i != 1, "layers", layers));
    }
    return json_pack("{s:s, s:s, s:[{s:s, s:s, s:{s:f, s:f, s:i}}], s:o, s:[s, s], s:{s:i, s:i, s:i}}", "manifest",
                     "demo.yaml", "ingot_version", "0.1.0", "models", "name", "tl3m", "path", "examples/tl3m", "source",
                     "ppl", 12.38, "ppl_stderr", 0.49, "tokens", 2032, "jobs", jobs, "envelope", "bpw <= 5",
                     "kld_mean <= 0.003", "summary", "jobs", 4, "gates_failed", 1, "viable", 1);
}

Test(report, markdown_has_a_table_per_model_with_each_gate)
{
    json_t *r = sample_report();
    char *md = report_markdown(r);
    cr_assert_not_null(md);
    cr_expect(strstr(md, "## tl3m"));
    cr_expect(strstr(md, "| method | type | size | bpw | PPL ratio | KLD mean | same-top | Δacc (95% CI) |"), "%s", md);
    cr_expect(strstr(md, "`kld_mean <= 0.01` |"), "%s", md);
    cr_expect(strstr(md, "| ✔ |") && strstr(md, "| ✘ |"), "%s", md);
    cr_expect(strstr(md, "-1.08 [-1.88, -0.28]"), "Δacc with its CI: %s", md);
    cr_expect(strstr(md, "### Failed gates") && strstr(md, "kld_mean = 0.036, allowed <= 0.01"), "%s", md);
    free(md);
    json_decref(r);
}

Test(report, html_is_self_contained_with_three_charts)
{
    json_t *r = sample_report();
    char *html = report_html(r);
    cr_assert_not_null(html);
    cr_expect(!strstr(html, "<script"), "no JavaScript");
    cr_expect(!strstr(html, "src=") && !strstr(html, "href="), "no external assets");
    int n_svg = 0;
    for (const char *p = strstr(html, "<svg"); p; p = strstr(p + 1, "<svg"))
        n_svg++;
    cr_expect_eq(n_svg, 3, "Pareto, Δacc and heatmap charts");
    cr_expect(strstr(html, "<polyline"), "the frontier is drawn");
    cr_expect(strstr(html, "stroke-dasharray"), "envelope thresholds are drawn");
    cr_expect(strstr(html, "fill='white' stroke='#888'"), "dominated points are hollow");
    free(html);
    json_decref(r);
}

/* Parse every <svg> as XML, render the page in headless Chromium and look at the pixels:
 * printed "ok N_SVG NONBLANK_PCT COLOURED_PCT" on success. */
static const char check_py[] =
    "import re,sys,zlib,struct,subprocess,xml.etree.ElementTree as ET\n"
    "html,png=sys.argv[1],sys.argv[2]\n"
    "svgs=re.findall(r'<svg.*?</svg>',open(html,encoding='utf-8').read(),re.S)\n"
    "[ET.fromstring(s) for s in svgs]\n"
    "subprocess.run(['chromium','--headless','--no-sandbox','--disable-gpu','--hide-scrollbars',\n"
    "  '--window-size=1100,1400','--screenshot='+png,'file://'+html],capture_output=True,timeout=120)\n"
    "d=open(png,'rb').read();i=8;idat=b''\n"
    "while i<len(d):\n"
    "  n,t=struct.unpack('>I4s',d[i:i+8]);c=d[i+8:i+8+n];i+=12+n\n"
    "  if t==b'IHDR': w,h,bd,ct=struct.unpack('>IIBB',c[:10])\n"
    "  if t==b'IDAT': idat+=c\n"
    "bpp={2:3,6:4}[ct];raw=zlib.decompress(idat);s=w*bpp;prev=bytearray(s);rows=[]\n"
    "for y in range(h):\n"
    "  f=raw[y*(s+1)];r=bytearray(raw[y*(s+1)+1:(y+1)*(s+1)])\n"
    "  for x in range(s):\n"
    "    a=r[x-bpp] if x>=bpp else 0;b=prev[x];c=prev[x-bpp] if x>=bpp else 0\n"
    "    if f==1: r[x]=(r[x]+a)&255\n"
    "    elif f==2: r[x]=(r[x]+b)&255\n"
    "    elif f==3: r[x]=(r[x]+(a+b)//2)&255\n"
    "    elif f==4:\n"
    "      p=a+b-c;pa=abs(p-a);pb=abs(p-b);pc=abs(p-c)\n"
    "      r[x]=(r[x]+(a if pa<=pb and pa<=pc else b if pb<=pc else c))&255\n"
    "  rows.append(r);prev=r\n"
    "bg=tuple(rows[0][:3]);n=w*h;diff=col=0\n"
    "for r in rows[::2]:\n"
    "  for x in range(0,s,bpp*2):\n"
    "    p=tuple(r[x:x+3])\n"
    "    if p!=bg: diff+=1\n"
    "    if max(p)-min(p)>80: col+=1\n"
    "print('ok',len(svgs),round(100*diff*4/n,2),round(100*col*4/n,3))\n";

Test(report, html_renders_in_headless_chromium_with_parsing_svg, .timeout = 180)
{
    if (system("command -v chromium >/dev/null 2>&1") != 0 || system("command -v python3 >/dev/null 2>&1") != 0)
        cr_skip_test("chromium or python3 is not installed (apt-get install chromium); the HTML was not rendered");
    json_t *r = sample_report();
    char *html = report_html(r);
    const char *dir = test_tmp_dir();
    char html_path[4300], png_path[4300], py_path[4300], cmd[13000];
    snprintf(html_path, sizeof html_path, "%s/report.html", dir);
    snprintf(png_path, sizeof png_path, "%s/report.png", dir);
    snprintf(py_path, sizeof py_path, "%s/check.py", dir);
    cr_assert_eq(test_write_file(html_path, html, strlen(html)), 0);
    cr_assert_eq(test_write_file(py_path, check_py, strlen(check_py)), 0);
    snprintf(cmd, sizeof cmd, "python3 %s %s %s 2>&1", py_path, html_path, png_path);
    FILE *p = popen(cmd, "r");
    char out[4096] = "";
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = '\0';
    int status = p ? pclose(p) : -1;
    cr_assert_eq(status, 0, "%s", out);
    int n_svg = 0;
    double nonblank = 0, coloured = 0;
    cr_assert_eq(sscanf(out, "ok %d %lf %lf", &n_svg, &nonblank, &coloured), 3, "%s", out);
    cr_expect_eq(n_svg, 3);
    cr_expect_gt(nonblank, 3.0, "the screenshot is not blank: %.2f%% of pixels differ from the background", nonblank);
    cr_expect_gt(coloured, 0.05, "the charts' colours show: %.3f%% coloured pixels", coloured);
    cr_log_info("chromium screenshot %s: %.2f%% non-background, %.3f%% coloured", png_path, nonblank, coloured);
    free(html);
    json_decref(r);
}
