# PLISM robustness: slides of one TMA under stainings × scanners, registered to the reference,
# matched tiles, per-model embeddings, cosine / top-k per slide pair, H0-mini's table and figures.
include: "common.smk"


rule synth_plism:
    output:
        slides=directory(paths.plism_slides_dir("{plism_set}")),
        truth=paths.plism_truth("{plism_set}"),
    log:
        "logs/synth_plism/{plism_set}.log",
    benchmark:
        "runtime/synth_plism/{plism_set}.tsv"
    wildcard_constraints:
        plism_set=wildcard_choice(PLAN.plism.set_names("synthetic")),
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        script=PLAN.script("synth_plism.py"),
        out_dir=lambda w: paths.plism_dir(w.plism_set),
        stainings=lambda w: list(PLAN.plism.spec(w.plism_set)["stainings"]),
        scanners=lambda w: list(PLAN.plism.spec(w.plism_set)["scanners"]),
        reference=lambda w: PLAN.plism.spec(w.plism_set)["reference"],
        seed=lambda w: PLAN.plism.spec(w.plism_set)["seed"],
        synth=lambda w: as_json(PLAN.plism.spec(w.plism_set)["synth"]),
    shell:
        "pathfm {params.script:q} --out-dir {params.out_dir:q} --stainings {params.stainings:q}"
        " --scanners {params.scanners:q} --reference {params.reference:q} --seed {params.seed:q}"
        " --params {params.synth:q} > {log:q} 2>&1"


rule plism_register:
    input:
        unpack(lambda w: PLAN.plism.register_inputs(w.plism_set, w.slide_id)),
    output:
        tfm=paths.plism_transform("{plism_set}", "{slide_id}"),
        qc=paths.plism_transform("{plism_set}", "{slide_id}", ".qc.png"),
        info=paths.plism_transform("{plism_set}", "{slide_id}", ".json"),
    log:
        "logs/plism_register/{plism_set}/{slide_id}.log",
    benchmark:
        "runtime/plism_register/{plism_set}/{slide_id}.tsv"
    wildcard_constraints:
        plism_set=wildcard_choice(PLAN.plism.set_names("synthetic", "raw")),
        slide_id="[A-Z]+_[A-Z0-9]+",
    conda:
        CONDA_ENV
    resources:
        mem_mb=config["plism"]["registration"]["mem_mb"],
        runtime=config["plism"]["registration"]["runtime"],
    params:
        script=PLAN.script("plism_register.py"),
        mpp=config["plism"]["registration"]["mpp"],
        tile_mpp=config["plism"]["registration"]["tile_mpp"],
        reg=as_json(config["plism"]["registration"]["params"]),
        reference=lambda w: PLAN.plism.slide_path(
            w.plism_set, PLAN.plism.spec(w.plism_set)["reference"]
        ),
        moving=lambda w: PLAN.plism.slide_path(w.plism_set, w.slide_id),
        identity=lambda w: PLAN.plism.identity_flag(w.plism_set, w.slide_id),
        truth=lambda w, input: option("--ground-truth", input.truth),
    shell:
        "pathfm {params.script:q} --reference {params.reference:q} --moving {params.moving:q}"
        " --slide-id {wildcards.slide_id:q} {params.identity:q} --mpp {params.mpp:q}"
        " --params {params.reg:q} {params.truth:q} --tile-mpp {params.tile_mpp:q}"
        " --tfm {output.tfm:q} --qc {output.qc:q} --info {output.info:q} > {log:q} 2>&1"


rule plism_tiles:
    input:
        slides=lambda w: PLAN.plism.slide_inputs(
            w.plism_set, PLAN.plism.slides(w.plism_set)
        ),
        tfms=lambda w: PLAN.plism.transforms(w.plism_set),
    output:
        tiles=directory(paths.plism_tiles("{plism_set}")),
    log:
        "logs/plism_tiles/{plism_set}.log",
    benchmark:
        "runtime/plism_tiles/{plism_set}.tsv"
    wildcard_constraints:
        plism_set=wildcard_choice(PLAN.plism.set_names("synthetic", "raw")),
    conda:
        CONDA_ENV
    resources:
        mem_mb=config["plism"]["tiling"]["mem_mb"],
        runtime=config["plism"]["tiling"]["runtime"],
    params:
        script=PLAN.script("plism_tiles.py"),
        reference=lambda w: PLAN.plism.spec(w.plism_set)["reference"],
        slides=lambda w: PLAN.plism.slide_argv(w.plism_set),
        tfms=lambda w, input: PLAN.plism.pairs_argv(w.plism_set, list(input.tfms)),
        tiling=PLAN.plism.tiling_json(),
    shell:
        "pathfm {params.script:q} --source raw --reference-id {params.reference:q}"
        " --slides {params.slides:q} --transforms {params.tfms:q} --params {params.tiling:q}"
        " --out-dir {output.tiles:q} > {log:q} 2>&1"


# HF_TOKEN (if the hub asks for one) is read from the environment by huggingface_hub.
rule plism_fetch_hub:
    output:
        paths.plism_hub_file("{plism_set}", "{slide_id}"),
    log:
        "logs/plism_fetch_hub/{plism_set}/{slide_id}.log",
    wildcard_constraints:
        plism_set=wildcard_choice(PLAN.plism.set_names("hub")),
        slide_id="[A-Z]+_[A-Z0-9]+",
    retries: 2
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=120,
        hub_downloads=1,
    params:
        script=PLAN.script("fetch_dataset.py"),
        root=lambda w: paths.plism_hub_dir(w.plism_set),
        staining=lambda w: w.slide_id.split("_")[0],
        scanner=lambda w: w.slide_id.split("_")[1],
        limits=PLAN.download_limits_argv(archives=True),
    shell:
        "pathfm {params.script:q} --dataset plism --root {params.root:q}"
        " --stainings {params.staining:q} --scanners {params.scanner:q} {params.limits:q}"
        " > {log:q} 2>&1"


rule plism_hub_tiles:
    input:
        h5=lambda w: PLAN.plism.hub_files(w.plism_set),
    output:
        tiles=directory(paths.plism_tiles("{plism_set}")),
    log:
        "logs/plism_hub_tiles/{plism_set}.log",
    benchmark:
        "runtime/plism_hub_tiles/{plism_set}.tsv"
    wildcard_constraints:
        plism_set=wildcard_choice(PLAN.plism.set_names("hub")),
    conda:
        CONDA_ENV
    resources:
        mem_mb=config["plism"]["tiling"]["mem_mb"],
        runtime=config["plism"]["tiling"]["runtime"],
    params:
        script=PLAN.script("plism_tiles.py"),
        reference=lambda w: PLAN.plism.spec(w.plism_set)["reference"],
        slides=lambda w, input: PLAN.plism.pairs_argv(w.plism_set, list(input.h5)),
        expected=lambda w: PLAN.plism.expected_tiles_argv(w.plism_set),
        tiling=PLAN.plism.tiling_json(),
    shell:
        "pathfm {params.script:q} --source hub --reference-id {params.reference:q}"
        " --slides {params.slides:q} {params.expected:q} --params {params.tiling:q}"
        " --out-dir {output.tiles:q} > {log:q} 2>&1"


rule plism_bench:
    input:
        tiles=lambda w: paths.plism_tiles(w.plism_set),
        embeddings=lambda w: paths.plism_embeddings(w.model, w.plism_set),
    output:
        result=paths.bench_result("plism", "{plism_set}", "{model}"),
    log:
        "logs/plism_bench/{plism_set}/{model}.log",
    benchmark:
        "runtime/plism_bench/{plism_set}/{model}.tsv"
    wildcard_constraints:
        plism_set=wildcard_choice(PLAN.plism.set_names()),
        model="[^/]+",
    conda:
        CONDA_ENV
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=config["plism"]["metrics"]["gpu"],
    params:
        script=PLAN.script("plism_bench.py"),
        embeddings=lambda w, input: PLAN.plism.per_slide_argv(
            w.plism_set, input.embeddings
        ),
        tiles=lambda w, input: PLAN.plism.per_slide_argv(w.plism_set, input.tiles),
        settings=PLAN.plism.metric_json(),
        k=config["plism"]["metrics"]["leaderboard_k"],
    shell:
        "pathfm {params.script:q} --model {wildcards.model:q} --plism-set {wildcards.plism_set:q}"
        " --embeddings {params.embeddings:q} --tiles {params.tiles:q}"
        " --settings {params.settings:q} --leaderboard-k {params.k:q}"
        " --out {output.result:q} > {log:q} 2>&1"


rule plism_report:
    input:
        results=lambda w: PLAN.plism.report_inputs(),
        published=paths.published_values("h0mini_table3_plism"),
    output:
        # The PNGs go into the HTML report; the table via paper_tables.smk's table_html.
        table=paths.table_files("h0mini_table3_plism"),
        fig1=[
            report(
                paths.figure("h0mini_fig1_robustness"),
                caption="../report/plism_fig1.rst",
                category="h0mini",
                subcategory="figures",
            ),
            paths.figure("h0mini_fig1_robustness", ".svg"),
        ],
        fig4=[
            report(
                paths.figure("h0mini_fig4_scanner_vs_staining"),
                caption="../report/plism_fig4.rst",
                category="h0mini",
                subcategory="figures",
            ),
            paths.figure("h0mini_fig4_scanner_vs_staining", ".svg"),
        ],
    log:
        "logs/plism_report/h0mini.log",
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        script=PLAN.script("plism_report.py"),
        published_as=as_json(config["plism"]["published_as"]),
        table=lambda w, output: output.table[0][: -len(".csv")],
        fig1=lambda w, output: output.fig1[0][: -len(".png")],
        fig4=lambda w, output: output.fig4[0][: -len(".png")],
    shell:
        "pathfm {params.script:q} --results {input.results:q} --published {input.published:q}"
        " --published-as {params.published_as:q} --table {params.table:q}"
        " --fig1 {params.fig1:q} --fig4 {params.fig4:q} > {log:q} 2>&1"


rule h0mini_table3_plism:
    input:
        rules.plism_report.output.table,


rule h0mini_fig1_robustness:
    input:
        rules.plism_report.output.fig1,


rule h0mini_fig4_scanner_vs_staining:
    input:
        rules.plism_report.output.fig4,
