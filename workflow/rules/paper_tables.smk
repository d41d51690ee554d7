# The papers' tables and figures, each beside the published values, plus what the HTML
# report needs around them: the resolved config, software versions and per-rule run times.
include: "common.smk"


from pathfm.workflow.tables import PAPERS, TABLE_KINDS, figure_targets, script_kind
from pathfm.workflow.tables import target_files


rule paper_table:
    input:
        results=lambda w: PLAN.tables.results(f"{w.paper}_{w.name}"),
        published=lambda w: PLAN.tables.published_csv(f"{w.paper}_{w.name}") or [],
    output:
        table=paths.table("{paper}_{name}", ".csv"),
        md=paths.table("{paper}_{name}", ".md"),
        tex=paths.table("{paper}_{name}", ".tex"),
    log:
        "logs/paper_table/{paper}_{name}.log",
    benchmark:
        "runtime/paper_table/{paper}_{name}.tsv"
    wildcard_constraints:
        paper=wildcard_choice(PAPERS),
        name=wildcard_choice(
            [t.split("_", 1)[1] for t, k in TABLE_KINDS.items() if k == "table"]
        ),
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        script=PLAN.script("paper_table.py"),
        spec=lambda w: as_json(PLAN.tables.spec(f"{w.paper}_{w.name}")),
        caption=lambda w: PLAN.tables.caption(f"{w.paper}_{w.name}"),
        published=lambda w, input: option("--published", input.published),
        stem=lambda w, output: output.table[: -len(".csv")],
    shell:
        "pathfm {params.script:q} --kind table --results {input.results:q} {params.published:q}"
        " --spec {params.spec:q} --caption {params.caption:q} --table {params.stem:q}"
        " > {log:q} 2>&1"


rule paper_figure:
    input:
        results=lambda w: PLAN.tables.results(f"{w.paper}_{w.name}"),
        published=lambda w: PLAN.tables.published_csv(f"{w.paper}_{w.name}") or [],
    output:
        table=paths.table("{paper}_{name}", ".csv"),
        md=paths.table("{paper}_{name}", ".md"),
        tex=paths.table("{paper}_{name}", ".tex"),
        png=report(
            paths.figure("{paper}_{name}", ".png"),
            caption="../report/paper_figure.rst",
            category="{paper}",
            subcategory="figures",
        ),
        svg=paths.figure("{paper}_{name}", ".svg"),
    log:
        "logs/paper_figure/{paper}_{name}.log",
    benchmark:
        "runtime/paper_figure/{paper}_{name}.tsv"
    wildcard_constraints:
        paper=wildcard_choice(PAPERS),
        name=wildcard_choice([t.split("_", 1)[1] for t in figure_targets()]),
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        script=PLAN.script("paper_table.py"),
        kind=lambda w: script_kind(f"{w.paper}_{w.name}"),
        spec=lambda w: as_json(PLAN.tables.spec(f"{w.paper}_{w.name}")),
        caption=lambda w: PLAN.tables.caption(f"{w.paper}_{w.name}"),
        published=lambda w, input: option("--published", input.published),
        stem=lambda w, output: output.table[: -len(".csv")],
        figure=lambda w, output: output.png[: -len(".png")],
    shell:
        "pathfm {params.script:q} --kind {params.kind:q} --results {input.results:q}"
        " {params.published:q} --spec {params.spec:q} --caption {params.caption:q}"
        " --table {params.stem:q} --figure {params.figure:q} > {log:q} 2>&1"


# The report shows tables as HTML (it offers a CSV only as a download), every paper's
# tables alike, the PLISM and rank tables of other stages included.
rule table_html:
    input:
        paths.table("{paper}_{name}", ".csv"),
    output:
        report(
            paths.table_html("{paper}_{name}"),
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
        name=wildcard_choice([t.split("_", 1)[1] for t in PLAN.tables.report_tables()]),
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        script=PLAN.script("paper_table_html.py"),
        caption=lambda w: PLAN.tables.report_caption(f"{w.paper}_{w.name}"),
    shell:
        "pathfm {params.script:q} --table {input:q} --caption {params.caption:q} --out {output:q}"
        " > {log:q} 2>&1"


# One target rule per registered table or figure (pathfm.workflow.tables.TABLE_KINDS),
# so `snakemake kaiko_table1_linear_probe` rebuilds that table alone.
for _target in TABLE_KINDS:

    rule:
        name:
            _target
        input:
            target_files(_target),


rule provenance:
    output:
        config=paths.PROVENANCE[0],
        versions=paths.PROVENANCE[1],
        html=report(
            paths.PROVENANCE[2],
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
        script=PLAN.script("provenance.py"),
        config=lambda w: as_json(config),
    shell:
        "pathfm {params.script:q} --config {params.config:q} --config-out {output.config:q}"
        " --versions-out {output.versions:q} --html-out {output.html:q} > {log:q} 2>&1"


# Last in the DAG: it waits for every other target so the summary covers the whole run.
rule runtime_summary:
    input:
        targets=lambda w: PLAN.summary_inputs(),
    output:
        report(
            paths.RUNTIME_SUMMARY,
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
        script=PLAN.script("runtime_summary.py"),
    shell:
        "pathfm {params.script:q} --runtime-dir runtime --out {output:q} > {log:q} 2>&1"
