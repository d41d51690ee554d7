# Camelyon16 and PANDA as slide-classification cohorts (eva): the slide table read from
# the unpacked download (a checkpoint: slide ids come from it), then per run of the
# dataset's slides_per_job slides (table order) one tiling job (masks + sampled tile
# grids, resumed slide by slide) and one embedding job per model (one store, tiles
# grouped by slide), as embed_slide_tiles does for GDC cohorts: ~11,000 slides and 17
# models would otherwise make ~190,000 jobs.


checkpoint slide_dataset_table:
    input:
        root="results/datasets/{name}",
    output:
        "results/slide_datasets/{name}/slides.tsv",
    log:
        "logs/slide_dataset_table/{name}.log",
    benchmark:
        "runtime/slide_dataset_table/{name}.tsv"
    wildcard_constraints:
        name=wildcard_choice(list(SB_DATASETS)),
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        script=script("slide_dataset_table.py"),
    shell:
        "python {params.script} --dataset {wildcards.name} --root {input.root}"
        " --out {output} > {log} 2>&1"


rule tile_dataset_shard:
    input:
        table=lambda w: ancient(slide_dataset_table_path(w.name)),
    output:
        # Pixels of up to 10,000 tiles per slide (~1 GB): kept until every model embedded them.
        tiles=temp(directory("results/slide_datasets/{name}/tiles/shard{shard}")),
        masks=directory("results/slide_datasets/{name}/masks/shard{shard}"),
    log:
        "logs/tile_dataset_shard/{name}/shard{shard}.log",
    benchmark:
        "runtime/tile_dataset_shard/{name}/shard{shard}.tsv"
    wildcard_constraints:
        name=wildcard_choice(list(SB_DATASETS)),
        shard=r"\d{5}",
    conda:
        CONDA_ENV
    resources:
        mem_mb=6000,
        runtime=lambda w: slide_dataset_runtime(w.name),
    params:
        script=script("tile_dataset_shard.py"),
        per_job=lambda w: SB_DATASETS[w.name]["slides_per_job"],
        mask=as_json(config["mask"]),
        tiling=lambda w: as_json(slide_dataset_tiling(w.name)),
        max_tiles=lambda w: SB_DATASETS[w.name]["max_tiles"],
        seed=lambda w: SB_DATASETS[w.name]["seed"],
    shell:
        "python {params.script} --table {input.table} --slides-per-job {params.per_job}"
        " --shard {wildcards.shard} --mask-params {params.mask:q} --tiling {params.tiling:q}"
        " --max-tiles {params.max_tiles} --seed {params.seed} --tiles-out {output.tiles}"
        " --masks-out {output.masks} > {log} 2>&1"


rule embed_dataset_shard:
    input:
        tiles="results/slide_datasets/{name}/tiles/shard{shard}",
        weights=lambda w: model_weights(w.model),
    output:
        store=directory(
            "results/embeddings/{model}/slide_datasets/{name}/shard{shard}.zarr"
        ),
    log:
        "logs/embed_dataset_shard/{model}/{name}/shard{shard}.log",
    benchmark:
        "runtime/embed_dataset_shard/{model}/{name}/shard{shard}.tsv"
    wildcard_constraints:
        model="[^/]+",
        name=wildcard_choice(list(SB_DATASETS)),
        shard=r"\d{5}",
    conda:
        CONDA_ENV
    threads: max(1, EMBED["workers"])
    resources:
        mem_mb=EMBED["mem_mb"],
        runtime=EMBED["runtime"],
        gpu=EMBED["gpu"],
    params:
        script=script("embed.py"),
        launcher=lambda w, resources: shell_prefix(
            script("launch.py"), min(int(resources.gpu), 1), 1
        ),
        weights=lambda w: (
            f"--weights {model_weights(w.model)[0]}" if model_weights(w.model) else ""
        ),
        # The shard's stores in table order (the 'group' array follows it).
        stores=lambda w, input: [
            f"{input.tiles}/{s}.zarr"
            for s in slide_dataset_shards(w.name)[int(w.shard)]
        ],
        dtype=EMBED["dtype"],
        batch=EMBED["batch_size"],
        workers=EMBED["workers"],
        shard=EMBED["shard_size"],
        autocast=EMBED["autocast"],
    shell:
        "{params.launcher} {params.script} --model {wildcards.model} {params.weights}"
        " --kind tiles --tiles {params.stores}"
        " --dataset-name slide_datasets/{wildcards.name}/shard{wildcards.shard}"
        " --out {output.store} --dtype {params.dtype} --batch-size {params.batch}"
        " --workers {params.workers} --shard-size {params.shard}"
        " --autocast {params.autocast} > {log} 2>&1"
