# PLISM robustness: slides of one TMA under stainings × scanners, registered to the reference,
# matched tiles, per-model embeddings, cosine / top-k per slide pair, H0-mini's table and figures.
include: "plism_common.smk"


rule synth_plism:
    output:
        slides=directory("results/plism/{plism_set}/slides"),
        truth="results/plism/{plism_set}/ground_truth.json",
    log:
        "logs/synth_plism/{plism_set}.log",
    benchmark:
        "runtime/synth_plism/{plism_set}.tsv"
    wildcard_constraints:
        plism_set=wildcard_choice(plism_sets("synthetic")),
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        script=script("synth_plism.py"),
        out_dir=lambda w: f"results/plism/{w.plism_set}",
        stainings=lambda w: " ".join(PLISM_SETS[w.plism_set]["stainings"]),
        scanners=lambda w: " ".join(PLISM_SETS[w.plism_set]["scanners"]),
        reference=lambda w: PLISM_SETS[w.plism_set]["reference"],
        seed=lambda w: PLISM_SETS[w.plism_set]["seed"],
        synth=lambda w: as_json(PLISM_SETS[w.plism_set]["synth"]),
    shell:
        "python {params.script} --out-dir {params.out_dir} --stainings {params.stainings}"
        " --scanners {params.scanners} --reference {params.reference} --seed {params.seed}"
        " --params {params.synth:q} > {log} 2>&1"


rule plism_register:
    input:
        slides=lambda w: plism_slide_inputs(
            w.plism_set, sorted({PLISM_SETS[w.plism_set]["reference"], w.slide_id})
        ),
        truth=lambda w: (
            [f"results/plism/{w.plism_set}/ground_truth.json"]
            if PLISM_SETS[w.plism_set]["source"] == "synthetic"
            else []
        ),
    output:
        tfm="results/plism/{plism_set}/transforms/{slide_id}.tfm",
        qc="results/plism/{plism_set}/transforms/{slide_id}.qc.png",
        info="results/plism/{plism_set}/transforms/{slide_id}.json",
    log:
        "logs/plism_register/{plism_set}/{slide_id}.log",
    benchmark:
        "runtime/plism_register/{plism_set}/{slide_id}.tsv"
    wildcard_constraints:
        plism_set=wildcard_choice(plism_sets("synthetic", "raw")),
        slide_id="[A-Z]+_[A-Z0-9]+",
    conda:
        CONDA_ENV
    resources:
        mem_mb=PLISM["registration"]["mem_mb"],
        runtime=PLISM["registration"]["runtime"],
    params:
        script=script("plism_register.py"),
        mpp=PLISM["registration"]["mpp"],
        tile_mpp=PLISM["registration"]["tile_mpp"],
        reg=as_json(PLISM["registration"]["params"]),
        reference=lambda w: plism_slide_path(
            w.plism_set, PLISM_SETS[w.plism_set]["reference"]
        ),
        moving=lambda w: plism_slide_path(w.plism_set, w.slide_id),
        identity=lambda w: (
            "--identity" if w.slide_id == PLISM_SETS[w.plism_set]["reference"] else ""
        ),
        truth=lambda w, input: f"--ground-truth {input.truth}" if input.truth else "",
    shell:
        "python {params.script} --reference {params.reference} --moving {params.moving}"
        " --slide-id {wildcards.slide_id} {params.identity} --mpp {params.mpp}"
        " --params {params.reg:q} {params.truth} --tile-mpp {params.tile_mpp}"
        " --tfm {output.tfm} --qc {output.qc} --info {output.info} > {log} 2>&1"


rule plism_tiles:
    input:
        slides=lambda w: plism_slide_inputs(w.plism_set, plism_slides(w.plism_set)),
        tfms=lambda w: [
            f"results/plism/{w.plism_set}/transforms/{s}.tfm"
            for s in plism_slides(w.plism_set)
        ],
    output:
        tiles=directory("results/plism/{plism_set}/tiles"),
    log:
        "logs/plism_tiles/{plism_set}.log",
    benchmark:
        "runtime/plism_tiles/{plism_set}.tsv"
    wildcard_constraints:
        plism_set=wildcard_choice(plism_sets("synthetic", "raw")),
    conda:
        CONDA_ENV
    resources:
        mem_mb=PLISM["tiling"]["mem_mb"],
        runtime=PLISM["tiling"]["runtime"],
    params:
        script=script("plism_tiles.py"),
        reference=lambda w: PLISM_SETS[w.plism_set]["reference"],
        slides=lambda w: " ".join(
            f"{s}={plism_slide_path(w.plism_set, s)}"
            for s in plism_slides(w.plism_set)
        ),
        tfms=lambda w, input: " ".join(
            f"{s}={p}" for s, p in zip(plism_slides(w.plism_set), input.tfms)
        ),
        tiling=plism_tiling_json(),
    shell:
        "python {params.script} --source raw --reference-id {params.reference}"
        " --slides {params.slides} --transforms {params.tfms} --params {params.tiling:q}"
        " --out-dir {output.tiles} > {log} 2>&1"


# HF_TOKEN (if the hub asks for one) is read from the environment by huggingface_hub.
rule plism_fetch_hub:
    output:
        "results/plism/{plism_set}/hub/{slide_id}_to_GMH_S60.tif.h5",
    log:
        "logs/plism_fetch_hub/{plism_set}/{slide_id}.log",
    wildcard_constraints:
        plism_set=wildcard_choice(plism_sets("hub")),
        slide_id="[A-Z]+_[A-Z0-9]+",
    retries: 2
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=120,
        hub_downloads=1,
    params:
        script=script("fetch_dataset.py"),
        root=lambda w: f"results/plism/{w.plism_set}/hub",
        staining=lambda w: w.slide_id.split("_")[0],
        scanner=lambda w: w.slide_id.split("_")[1],
    shell:
        "python {params.script} --dataset plism --root {params.root}"
        " --stainings {params.staining} --scanners {params.scanner} > {log} 2>&1"


rule plism_hub_tiles:
    input:
        h5=lambda w: [plism_hub_file(w.plism_set, s) for s in plism_slides(w.plism_set)],
    output:
        tiles=directory("results/plism/{plism_set}/tiles"),
    log:
        "logs/plism_hub_tiles/{plism_set}.log",
    benchmark:
        "runtime/plism_hub_tiles/{plism_set}.tsv"
    wildcard_constraints:
        plism_set=wildcard_choice(plism_sets("hub")),
    conda:
        CONDA_ENV
    resources:
        mem_mb=PLISM["tiling"]["mem_mb"],
        runtime=PLISM["tiling"]["runtime"],
    params:
        script=script("plism_tiles.py"),
        reference=lambda w: PLISM_SETS[w.plism_set]["reference"],
        slides=lambda w, input: " ".join(
            f"{s}={p}" for s, p in zip(plism_slides(w.plism_set), input.h5)
        ),
        expected=lambda w: (
            f"--expected-tiles {PLISM_SETS[w.plism_set]['hub_expected_tiles']}"
            if PLISM_SETS[w.plism_set]["hub_expected_tiles"]
            else ""
        ),
        tiling=plism_tiling_json(),
    shell:
        "python {params.script} --source hub --reference-id {params.reference}"
        " --slides {params.slides} {params.expected} --params {params.tiling:q}"
        " --out-dir {output.tiles} > {log} 2>&1"


rule embed_plism:
    input:
        tiles=lambda w: plism_tiles_dir(w.plism_set),
        weights=lambda w: model_weights(w.model),
    output:
        stores=directory("results/embeddings/{model}/plism/{plism_set}"),
    log:
        "logs/embed_plism/{model}/{plism_set}.log",
    benchmark:
        "runtime/embed_plism/{model}/{plism_set}.tsv"
    wildcard_constraints:
        model="[^/]+",
        plism_set=wildcard_choice(plism_sets()),
    conda:
        CONDA_ENV
    threads: max(1, EMBED["workers"])
    resources:
        mem_mb=EMBED["mem_mb"],
        runtime=EMBED["runtime"],
        gpu=EMBED["gpu"],
    params:
        script=script("embed_plism.py"),
        tiles=lambda w, input: " ".join(
            f"{s}={input.tiles}/{s}.zarr" for s in plism_slides(w.plism_set)
        ),
        weights=lambda w: (
            f"--weights {model_weights(w.model)[0]}" if model_weights(w.model) else ""
        ),
        dtype=EMBED["dtype"],
        batch=EMBED["batch_size"],
        workers=EMBED["workers"],
        shard=EMBED["shard_size"],
        autocast=EMBED["autocast"],
    shell:
        "python {params.script} --model {wildcards.model} {params.weights}"
        " --plism-set {wildcards.plism_set} --tiles {params.tiles} --out-dir {output.stores}"
        " --dtype {params.dtype} --batch-size {params.batch} --workers {params.workers}"
        " --shard-size {params.shard} --autocast {params.autocast} > {log} 2>&1"


rule plism_bench:
    input:
        tiles=lambda w: plism_tiles_dir(w.plism_set),
        embeddings=lambda w: plism_embeddings_dir(w.model, w.plism_set),
    output:
        result="results/bench/plism/{plism_set}/{model}.json",
    log:
        "logs/plism_bench/{plism_set}/{model}.log",
    benchmark:
        "runtime/plism_bench/{plism_set}/{model}.tsv"
    wildcard_constraints:
        plism_set=wildcard_choice(plism_sets()),
        model="[^/]+",
    conda:
        CONDA_ENV
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=PLISM["metrics"]["gpu"],
    params:
        script=script("plism_bench.py"),
        embeddings=lambda w, input: " ".join(
            f"{s}={input.embeddings}/{s}.zarr" for s in plism_slides(w.plism_set)
        ),
        tiles=lambda w, input: " ".join(
            f"{s}={input.tiles}/{s}.zarr" for s in plism_slides(w.plism_set)
        ),
        settings=plism_metric_json(),
        k=PLISM["metrics"]["leaderboard_k"],
    shell:
        "python {params.script} --model {wildcards.model} --plism-set {wildcards.plism_set}"
        " --embeddings {params.embeddings} --tiles {params.tiles}"
        " --settings {params.settings:q} --leaderboard-k {params.k}"
        " --out {output.result} > {log} 2>&1"


rule plism_report:
    input:
        results=lambda w: plism_report_inputs(),
        published="config/paper_values/h0mini_table3_plism.csv",
    output:
        # The PNGs go into the HTML report; the table via paper_tables.smk's table_html.
        table=multiext("results/tables/h0mini_table3_plism", ".csv", ".md", ".tex"),
        fig1=[
            report(
                "results/figures/h0mini_fig1_robustness.png",
                caption="../report/plism_fig1.rst",
                category="h0mini",
                subcategory="figures",
            ),
            "results/figures/h0mini_fig1_robustness.svg",
        ],
        fig4=[
            report(
                "results/figures/h0mini_fig4_scanner_vs_staining.png",
                caption="../report/plism_fig4.rst",
                category="h0mini",
                subcategory="figures",
            ),
            "results/figures/h0mini_fig4_scanner_vs_staining.svg",
        ],
    log:
        "logs/plism_report/h0mini.log",
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        script=script("plism_report.py"),
        published_as=as_json(PLISM["published_as"]),
    shell:
        "python {params.script} --results {input.results} --published {input.published}"
        " --published-as {params.published_as:q}"
        " --table results/tables/h0mini_table3_plism"
        " --fig1 results/figures/h0mini_fig1_robustness"
        " --fig4 results/figures/h0mini_fig4_scanner_vs_staining > {log} 2>&1"


rule h0mini_table3_plism:
    input:
        rules.plism_report.output.table,


rule h0mini_fig1_robustness:
    input:
        rules.plism_report.output.fig1,


rule h0mini_fig4_scanner_vs_staining:
    input:
        rules.plism_report.output.fig4,
