# Camelyon16 and PANDA as slide-classification cohorts (eva): the slide table read from
# the unpacked download (a checkpoint: slide ids come from it), one mask + sampled tile
# grid per slide, and one embedding store per slide and model (hundreds of slides of up
# to 10,000 tiles: cached and resumed slide by slide).


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


rule tile_dataset_slide:
    input:
        table=lambda w: ancient(slide_dataset_table_path(w.name)),
    output:
        # Pixels of up to 10,000 tiles per slide (~1 GB): kept until every model embedded them.
        tiles=temp(directory("results/slide_datasets/{name}/tiles/{slide_id}.zarr")),
        mask=directory("results/slide_datasets/{name}/masks/{slide_id}"),
    log:
        "logs/tile_dataset_slide/{name}/{slide_id}.log",
    benchmark:
        "runtime/tile_dataset_slide/{name}/{slide_id}.tsv"
    wildcard_constraints:
        name=wildcard_choice(list(SB_DATASETS)),
        slide_id="[^/]+",
    conda:
        CONDA_ENV
    resources:
        mem_mb=6000,
        runtime=60,
    params:
        script=script("tile_dataset_slide.py"),
        slide=lambda w, input: slide_dataset_path(input.table, w.slide_id),
        mask=as_json(config["mask"]),
        tiling=lambda w: as_json(slide_dataset_tiling(w.name)),
        max_tiles=lambda w: SB_DATASETS[w.name]["max_tiles"],
        seed=lambda w: SB_DATASETS[w.name]["seed"],
    shell:
        "python {params.script} --slide {params.slide:q} --slide-id {wildcards.slide_id}"
        " --mask-params {params.mask:q} --tiling {params.tiling:q} --max-tiles {params.max_tiles}"
        " --seed {params.seed} --mask-out {output.mask} --out {output.tiles} > {log} 2>&1"


rule embed_dataset_slide:
    input:
        tiles="results/slide_datasets/{name}/tiles/{slide_id}.zarr",
        weights=lambda w: model_weights(w.model),
    output:
        store=directory(
            "results/embeddings/{model}/slide_datasets/{name}/{slide_id}.zarr"
        ),
    log:
        "logs/embed_dataset_slide/{model}/{name}/{slide_id}.log",
    benchmark:
        "runtime/embed_dataset_slide/{model}/{name}/{slide_id}.tsv"
    wildcard_constraints:
        model="[^/]+",
        name=wildcard_choice(list(SB_DATASETS)),
        slide_id="[^/]+",
    conda:
        CONDA_ENV
    threads: max(1, EMBED["workers"])
    resources:
        mem_mb=EMBED["mem_mb"],
        runtime=EMBED["runtime"],
        gpu=EMBED["gpu"],
    params:
        script=script("embed.py"),
        weights=lambda w: (
            f"--weights {model_weights(w.model)[0]}" if model_weights(w.model) else ""
        ),
        dtype=EMBED["dtype"],
        batch=EMBED["batch_size"],
        workers=EMBED["workers"],
        shard=EMBED["shard_size"],
        autocast=EMBED["autocast"],
    shell:
        "python {params.script} --model {wildcards.model} {params.weights} --kind tiles"
        " --tiles {input.tiles} --dataset-name slide_datasets/{wildcards.name}/{wildcards.slide_id}"
        " --out {output.store} --dtype {params.dtype} --batch-size {params.batch}"
        " --workers {params.workers} --shard-size {params.shard} --autocast {params.autocast}"
        " > {log} 2>&1"
