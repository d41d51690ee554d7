# The papers' tables and figures, each beside the published values, plus what the HTML
# report needs around them: the resolved config, software versions and per-rule run times.
include: "paper_tables_common.smk"


rule paper_table:
    input:
        results=lambda w: table_results(f"{w.paper}_{w.name}"),
        published=lambda w: published_csv(f"{w.paper}_{w.name}") or [],
    output:
        table="results/tables/{paper}_{name}.csv",
        md="results/tables/{paper}_{name}.md",
        tex="results/tables/{paper}_{name}.tex",
    log:
        "logs/paper_table/{paper}_{name}.log",
    benchmark:
        "runtime/paper_table/{paper}_{name}.tsv"
    wildcard_constraints:
        paper=wildcard_choice(PAPERS),
        name=wildcard_choice(
            [t.split("_", 1)[1] for t, k in PAPER_TABLE_KINDS.items() if k == "table"]
        ),
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        script=script("paper_table.py"),
        spec=lambda w: as_json(table_spec(f"{w.paper}_{w.name}")),
        caption=lambda w: table_caption(f"{w.paper}_{w.name}"),
        published=lambda w, input: (
            f"--published {input.published}" if input.published else ""
        ),
        stem=lambda w, output: output.table[: -len(".csv")],
    shell:
        "python {params.script} --kind table --results {input.results} {params.published}"
        " --spec {params.spec:q} --caption {params.caption:q} --table {params.stem}"
        " > {log} 2>&1"


rule paper_figure:
    input:
        results=lambda w: table_results(f"{w.paper}_{w.name}"),
        published=lambda w: published_csv(f"{w.paper}_{w.name}") or [],
    output:
        table="results/tables/{paper}_{name}.csv",
        md="results/tables/{paper}_{name}.md",
        tex="results/tables/{paper}_{name}.tex",
        png=report(
            "results/figures/{paper}_{name}.png",
            caption="../report/paper_figure.rst",
            category="{paper}",
            subcategory="figures",
        ),
        svg="results/figures/{paper}_{name}.svg",
    log:
        "logs/paper_figure/{paper}_{name}.log",
    benchmark:
        "runtime/paper_figure/{paper}_{name}.tsv"
    wildcard_constraints:
        paper=wildcard_choice(PAPERS),
        name=wildcard_choice([t.split("_", 1)[1] for t in PAPER_FIGURES]),
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        script=script("paper_table.py"),
        kind=lambda w: {"figure": "sweep"}.get(
            PAPER_TABLE_KINDS[f"{w.paper}_{w.name}"],
            PAPER_TABLE_KINDS[f"{w.paper}_{w.name}"],
        ),
        spec=lambda w: as_json(table_spec(f"{w.paper}_{w.name}")),
        caption=lambda w: table_caption(f"{w.paper}_{w.name}"),
        published=lambda w, input: (
            f"--published {input.published}" if input.published else ""
        ),
        stem=lambda w, output: output.table[: -len(".csv")],
        figure=lambda w, output: output.png[: -len(".png")],
    shell:
        "python {params.script} --kind {params.kind} --results {input.results}"
        " {params.published} --spec {params.spec:q} --caption {params.caption:q}"
        " --table {params.stem} --figure {params.figure} > {log} 2>&1"


# The report shows tables as HTML (it offers a CSV only as a download), every paper's
# tables alike, the PLISM and rank tables of other stages included.
rule table_html:
    input:
        "results/tables/{paper}_{name}.csv",
    output:
        report(
            "results/report/tables/{paper}_{name}.html",
            caption="../report/paper_table.rst",
            category="{paper}",
            subcategory="tables",
        ),
    log:
        "logs/table_html/{paper}_{name}.log",
    benchmark:
        "runtime/table_html/{paper}_{name}.tsv"
    wildcard_constraints:
        paper=wildcard_choice(PAPERS),
        name=wildcard_choice([t.split("_", 1)[1] for t in report_tables()]),
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        script=script("paper_table_html.py"),
        caption=lambda w: report_table_caption(f"{w.paper}_{w.name}"),
    shell:
        "python {params.script} --table {input} --caption {params.caption:q} --out {output}"
        " > {log} 2>&1"


rule h0mini_table1_hest:
    input:
        multiext("results/tables/h0mini_table1_hest", ".csv", ".md", ".tex"),


rule h0mini_table2_eva:
    input:
        multiext("results/tables/h0mini_table2_eva", ".csv", ".md", ".tex"),


# H0-mini's "distilled vs trained from scratch" comparison (the paper sets H0-mini beside
# Phikon); here the same student and steps with and without the teacher.
rule h0mini_distilled_vs_scratch:
    input:
        multiext("results/tables/h0mini_distilled_vs_scratch", ".csv", ".md", ".tex"),


rule kaiko_table1_linear_probe:
    input:
        multiext("results/tables/kaiko_table1_linear_probe", ".csv", ".md", ".tex"),


rule kaiko_table8_linear_probe_std:
    input:
        multiext("results/tables/kaiko_table8_linear_probe_std", ".csv", ".md", ".tex"),


rule kaiko_table2_magnification:
    input:
        multiext("results/tables/kaiko_table2_magnification", ".csv", ".md", ".tex"),


rule kaiko_table3_wsi_fraction:
    input:
        multiext("results/tables/kaiko_table3_wsi_fraction", ".csv", ".md", ".tex"),


rule kaiko_table4_distinct_patches:
    input:
        multiext("results/tables/kaiko_table4_distinct_patches", ".csv", ".md", ".tex"),


rule kaiko_fig1_init:
    input:
        multiext("results/figures/kaiko_fig1_init", ".png", ".svg"),
        multiext("results/tables/kaiko_fig1_init", ".csv", ".md", ".tex"),


rule kaiko_fig4_dino_vs_dinov2:
    input:
        multiext("results/figures/kaiko_fig4_dino_vs_dinov2", ".png", ".svg"),
        multiext("results/tables/kaiko_fig4_dino_vs_dinov2", ".csv", ".md", ".tex"),


rule kaiko_fig6_unsupervised:
    input:
        multiext("results/figures/kaiko_fig6_unsupervised", ".png", ".svg"),
        multiext("results/tables/kaiko_fig6_unsupervised", ".csv", ".md", ".tex"),


rule gpfm_fig8_expert_distillation:
    input:
        multiext("results/figures/gpfm_fig8_expert_distillation", ".png", ".svg"),
        multiext("results/tables/gpfm_fig8_expert_distillation", ".csv", ".md", ".tex"),


rule provenance:
    output:
        config="results/provenance/config.yaml",
        versions="results/provenance/versions.txt",
        html=report(
            "results/provenance/provenance.html",
            caption="../report/provenance.rst",
            category="provenance",
        ),
    log:
        "logs/provenance/provenance.log",
    benchmark:
        "runtime/provenance/provenance.tsv"
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        script=script("provenance.py"),
        config=lambda w: as_json(config),
    shell:
        "python {params.script} --config {params.config:q} --config-out {output.config}"
        " --versions-out {output.versions} --html-out {output.html} > {log} 2>&1"


# Last in the DAG: it waits for every other target so the summary covers the whole run.
rule runtime_summary:
    input:
        targets=lambda w: runtime_summary_inputs(),
    output:
        report(
            "results/runtime.json",
            caption="../report/runtime_summary.rst",
            category="provenance",
        ),
    log:
        "logs/runtime_summary/runtime_summary.log",
    benchmark:
        "runtime/runtime_summary/runtime_summary.tsv"
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        script=script("runtime_summary.py"),
    shell:
        "python {params.script} --runtime-dir runtime --out {output} > {log} 2>&1"
