# Camelyon16 and PANDA as slide-classification cohorts (eva): the slide table read from
# the unpacked download (a checkpoint: slide ids come from it), then per run of the
# dataset's slides_per_job slides (table order) one tiling job (masks + sampled tile
# grids, resumed slide by slide) and one embedding job per model (one store, tiles
# grouped by slide), as embed_slide_tiles does for GDC cohorts: ~11,000 slides and 17
# models would otherwise make ~190,000 jobs.
include: "common.smk"


checkpoint slide_dataset_table:
    input:
        root=paths.dataset_dir("{name}"),
    output:
        paths.slide_dataset_table("{name}"),
    log:
        "logs/slide_dataset_table/{name}.log",
    benchmark:
        "runtime/slide_dataset_table/{name}.tsv"
    wildcard_constraints:
        name=wildcard_choice(PLAN.slides.datasets),
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        script=PLAN.script("slide_dataset_table.py"),
    shell:
        "pathfm {params.script:q} --dataset {wildcards.name:q} --root {input.root:q}"
        " --out {output:q} > {log:q} 2>&1"


rule tile_dataset_shard:
    input:
        table=lambda w: ancient(paths.slide_dataset_table(w.name)),
    output:
        # Pixels of up to 10,000 tiles per slide (~1 GB): kept until every model embedded them.
        tiles=temp(directory(paths.slide_dataset_tiles("{name}", "{shard}"))),
        masks=directory(paths.slide_dataset_masks("{name}", "{shard}")),
    log:
        "logs/tile_dataset_shard/{name}/shard{shard}.log",
    benchmark:
        "runtime/tile_dataset_shard/{name}/shard{shard}.tsv"
    wildcard_constraints:
        name=wildcard_choice(PLAN.slides.datasets),
        shard=r"\d{5}",
    conda:
        CONDA_ENV
    resources:
        mem_mb=6000,
        runtime=lambda w: PLAN.slides.dataset_runtime(w.name),
    params:
        script=PLAN.script("tile_dataset_shard.py"),
        per_job=lambda w: PLAN.slides.datasets[w.name]["slides_per_job"],
        mask=as_json(config["mask"]),
        tiling=lambda w: as_json(PLAN.slides.dataset_tiling(w.name)),
        max_tiles=lambda w: PLAN.slides.datasets[w.name]["max_tiles"],
        seed=lambda w: PLAN.slides.datasets[w.name]["seed"],
    shell:
        "pathfm {params.script:q} --table {input.table:q} --slides-per-job {params.per_job:q}"
        " --shard {wildcards.shard:q} --mask-params {params.mask:q} --tiling {params.tiling:q}"
        " --max-tiles {params.max_tiles:q} --seed {params.seed:q} --tiles-out {output.tiles:q}"
        " --masks-out {output.masks:q} > {log:q} 2>&1"
