"""Jobs that survive kill -9 (--resume) and jobs split over machines (--shard): the output must equal
an uninterrupted, unsharded run's, row for row, in order, with no duplicates."""
import csv
import glob
import json
import os
import random
import signal
import subprocess
import time
import unittest

import pyarrow as pa
import pyarrow.parquet as pq

from cli_harness import EXAMPLE_MODEL, SALVO, CliTestCase, read_jsonl, run_salvo, sample_texts


def read_parts(folder):
    """The rows of a folder output, parts read in name order (JSONL or Parquet parts)."""
    rows = []
    for path in sorted(glob.glob(os.path.join(folder, "part-*"))):
        if path.endswith(".jsonl"):
            with open(path, encoding="utf-8") as f:
                rows += [json.loads(line) for line in f]
        elif path.endswith(".parquet"):
            rows += pq.read_table(path).to_pylist()
        else:
            raise AssertionError(f"unexpected file {path}")
    return rows


def without_nulls(rows):
    return [{k: v for k, v in r.items() if v is not None} for r in rows]


class ResumeTest(CliTestCase):
    ROWS = 3000

    def setUp(self):
        super().setUp()
        texts = sample_texts(400)
        self.input = self.path("in.jsonl")
        with open(self.input, "w", encoding="utf-8") as f:
            for i in range(self.ROWS):
                row = {"id": i, "text": texts[i % len(texts)] + f" (copy {i})"}
                if i % 97 == 5:
                    row = {"id": i, "body": "no text here"}  # error rows must survive resumes too
                f.write(json.dumps(row) + "\n")

    def job(self, out, *extra):
        return [SALVO, "embed", "--model", EXAMPLE_MODEL, "--input", self.input, "--output", out,
                "--threads", "1", "--quiet", *map(str, extra)]

    def killed_then_resumed(self, out, part_rows, fmt, kills, seed):
        rng = random.Random(seed)
        for k in range(kills):
            proc = subprocess.Popen(self.job(out, "--resume", "--part-rows", part_rows, "--format", fmt),
                                    stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.05, 1.5))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            if proc.returncode == -signal.SIGKILL:
                self.assertFalse(os.path.exists(os.path.join(out, "_SUCCESS")), "a killed job is not complete")
        done = subprocess.run(self.job(out, "--resume", "--part-rows", part_rows, "--format", fmt),
                              capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertTrue(os.path.exists(os.path.join(out, "_SUCCESS")))
        return read_parts(out)

    def test_kill_9_at_random_points_then_resume_gives_the_uninterrupted_output(self):
        for fmt, part_rows, seeds in (("jsonl", 37, 3), ("parquet", 100000, 1), ("parquet", 250, 2)):
            with self.subTest(fmt=fmt, part_rows=part_rows):
                reference_dir = self.path(f"ref-{fmt}-{part_rows}") + "/"
                run_salvo("embed", "--model", EXAMPLE_MODEL, "--input", self.input, "--output", reference_dir,
                          "--threads", "1", "--part-rows", part_rows, "--format", fmt, "--quiet")
                reference = read_parts(reference_dir)
                self.assertEqual(len(reference), self.ROWS)
                for seed in range(seeds):
                    out = self.path(f"out-{fmt}-{part_rows}-{seed}") + "/"
                    got = self.killed_then_resumed(out, part_rows, fmt, kills=3, seed=seed)
                    self.assertEqual(len(got), self.ROWS)
                    self.assertEqual([r["id"] for r in got], list(range(self.ROWS)), "same rows, same order")
                    self.assertEqual(without_nulls(got), without_nulls(reference))

    def test_resume_without_output_just_runs_and_after_success_does_nothing(self):
        out = self.path("fresh") + "/"
        first = run_salvo("embed", "--model", EXAMPLE_MODEL, "--input", self.input, "--output", out, "--resume",
                          "--part-rows", "1000")
        self.assertIn(f"{self.ROWS} rows", first.stderr)
        again = run_salvo("embed", "--model", EXAMPLE_MODEL, "--input", self.input, "--output", out, "--resume",
                          "--part-rows", "1000")
        self.assertIn("already complete", again.stderr)
        single = self.path("single.jsonl")
        run_salvo("embed", "--model", EXAMPLE_MODEL, "--input", self.input, "--output", single, "--resume")
        self.assertIn("already complete", run_salvo("embed", "--model", EXAMPLE_MODEL, "--input", self.input,
                                                    "--output", single, "--resume").stderr)

    def test_resuming_another_jobs_folder_is_refused(self):
        out = self.path("other") + "/"
        run_salvo("embed", "--model", EXAMPLE_MODEL, "--input", self.input, "--output", out, "--part-rows", "500",
                  "--format", "jsonl")
        os.remove(os.path.join(out, "_SUCCESS"))
        manifest = os.path.join(out, "_salvo_manifest.json")
        with open(manifest) as f:
            m = json.load(f)
        m["complete"] = False
        with open(manifest, "w") as f:
            json.dump(m, f)
        proc = run_salvo("classify", "--model", EXAMPLE_MODEL, "--input", self.input, "--output", out, "--resume",
                         "--part-rows", "500", "--format", "jsonl", check=False)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("holds the parts of another job", proc.stderr)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1)

    def test_a_changed_input_file_in_a_folder_or_glob_or_a_changed_limit_is_another_job(self):
        """The folder's own time does not change when a part inside is rewritten: the job compares
        every file's size and time, so old and new rows are never mixed."""
        source = self.path("in-parquet")
        os.mkdir(source)
        rows = [{"id": i, "text": t} for i, t in enumerate(sample_texts(200))]
        pq.write_table(pa.Table.from_pylist(rows[:100]), os.path.join(source, "a.parquet"))
        pq.write_table(pa.Table.from_pylist(rows[100:]), os.path.join(source, "b.parquet"))

        def interrupted(input_path, out, *extra):
            run_salvo("tokenize", "--model", EXAMPLE_MODEL, "--input", input_path, "--output", out,
                      "--part-rows", "50", "--format", "jsonl", *extra)
            os.remove(os.path.join(out, "_SUCCESS"))
            manifest = os.path.join(out, "_salvo_manifest.json")
            with open(manifest) as f:
                m = json.load(f)
            m["complete"], m["parts"], m["rows"] = False, m["parts"][:2], 100
            with open(manifest, "w") as f:
                json.dump(m, f)

        def resumed(input_path, out, *extra):
            return run_salvo("tokenize", "--model", EXAMPLE_MODEL, "--input", input_path, "--output", out,
                             "--part-rows", "50", "--format", "jsonl", "--resume", *extra, check=False)

        for name, input_path in (("folder", source + "/"), ("glob", os.path.join(source, "*.parquet"))):
            with self.subTest(name):
                out = self.path(f"out-{name}") + "/"
                interrupted(input_path, out)
                # Unchanged input: the job continues where it stopped.
                self.assertEqual(resumed(input_path, out).returncode, 0)
                self.assertEqual(len(read_parts(out)), 200)
                interrupted(input_path, out)
                folder_times = os.stat(source)
                new = [{"id": 1000 + r["id"], "text": r["text"]} for r in rows[100:]]
                pq.write_table(pa.Table.from_pylist(new), os.path.join(source, "b.parquet"))
                os.utime(source, ns=(folder_times.st_atime_ns, folder_times.st_mtime_ns))
                proc = resumed(input_path, out)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertIn("holds the parts of another job", proc.stderr)
                pq.write_table(pa.Table.from_pylist(rows[100:]), os.path.join(source, "b.parquet"))

        out = self.path("out-limit") + "/"
        interrupted(source + "/", out)
        proc = resumed(source + "/", out, "--max-record-bytes", "500")
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("holds the parts of another job", proc.stderr)


class ShardTest(CliTestCase):
    def write_inputs(self):
        """Uneven inputs: very long and very short rows; CSV with quoted newlines; Parquet with uneven row groups."""
        texts = sample_texts(300)
        rows = []
        for i in range(1000):
            t = texts[i % len(texts)]
            rows.append({"id": i, "text": (t * (1 + (i % 13 == 0) * 20)) if i % 3 else t.split()[0]})
        rows[17] = {"id": 17, "text": None}
        jsonl = self.path("in.jsonl")
        with open(jsonl, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        csv_path = self.path("in.csv")
        with open(csv_path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["id", "text"])
            for r in rows:
                w.writerow([r["id"], "" if r["text"] is None else r["text"].replace(". ", ".\n", 1)])
        parquet_dir = self.path("in-parquet")
        os.mkdir(parquet_dir)
        table = pa.Table.from_pylist(rows)
        pq.write_table(table.slice(0, 640), os.path.join(parquet_dir, "a.parquet"), row_group_size=300)
        pq.write_table(table.slice(640, 20), os.path.join(parquet_dir, "b.parquet"), row_group_size=7)
        pq.write_table(table.slice(660), os.path.join(parquet_dir, "c.parquet"), row_group_size=340)
        return {"jsonl": jsonl, "csv": csv_path, "parquet": parquet_dir}

    def test_union_of_shards_equals_the_unsharded_output(self):
        inputs = self.write_inputs()
        for kind, path in inputs.items():
            whole = self.path(f"whole-{kind}") + "/"
            run_salvo("classify", "--model", EXAMPLE_MODEL, "--input", path, "--output", whole, "--format", "jsonl",
                      "--threads", "1", "--quiet")
            reference = read_parts(whole)
            self.assertEqual(len(reference), 1000)
            for n in (1, 2, 3, 7):
                with self.subTest(kind=kind, shards=n):
                    out = self.path(f"shards-{kind}-{n}") + "/"
                    counts = []
                    for i in reversed(range(n)):  # completion order must not matter
                        run_salvo("classify", "--model", EXAMPLE_MODEL, "--input", path, "--output", out,
                                  "--format", "jsonl", "--shard", f"{i}/{n}", "--threads", "1", "--quiet")
                        counts.append(len(read_parts(out)))
                        self.assertEqual(os.path.exists(os.path.join(out, "_SUCCESS")), i == 0,
                                         "_SUCCESS only once every shard is complete")
                    got = read_parts(out)
                    self.assertEqual(without_nulls(got), without_nulls(reference))

    def test_another_split_of_the_input_replaces_the_parts_of_the_last(self):
        # Regression: a folder written by 3 shards, then by 2, held both splits' parts (every row
        # twice); one written whole, then by shards, kept the whole run's part.
        inputs = self.write_inputs()
        out = self.path("resplit") + "/"

        def split(n):
            for i in range(n):
                extra = ("--shard", f"{i}/{n}") if n > 1 else ()
                run_salvo("tokenize", "--model", EXAMPLE_MODEL, "--input", inputs["jsonl"], "--output", out,
                          "--format", "jsonl", "--quiet", *extra)
            return sorted(r["id"] for r in read_parts(out))

        for n in (3, 2, 1, 2):
            with self.subTest(shards=n):
                self.assertEqual(split(n), list(range(1000)))
                self.assertTrue(os.path.exists(os.path.join(out, "_SUCCESS")))

    def test_shards_agree_on_the_types_of_json_columns(self):
        # Regression: each shard typed the JSON id column from its own first part: integers made it
        # INT64 in one shard's parts, "s20" made it STRING in the other's, and pyarrow refused the
        # folder. Every shard now types it from the first rows of the whole input.
        inp = self.path("ids.jsonl")
        with open(inp, "w") as f:
            for i in range(40):
                f.write(json.dumps({"id": i if i < 20 else f"s{i}", "text": f"row {i}"}) + "\n")
        out = self.path("typed") + "/"
        for i in range(2):
            run_salvo("tokenize", "--model", EXAMPLE_MODEL, "--input", inp, "--output", out, "--shard", f"{i}/2",
                      "--part-rows", "7", "--quiet")
        table = pq.read_table(out)
        self.assertEqual(str(table.schema.field("id").type), "string")
        self.assertEqual(sorted(table.column("id").to_pylist(), key=lambda v: (v[0] == "s", int(v.lstrip("s")))),
                         [str(i) for i in range(20)] + [f"s{i}" for i in range(20, 40)])
        self.assertEqual(table.column("error").null_count, 40)

    def test_shards_need_a_folder_output(self):
        # Regression: every shard replaced a file output in turn (or, with --resume, found it
        # "already complete"), leaving one shard's rows.
        inputs = self.write_inputs()
        for output, extra, message in (
                (self.path("one.jsonl"), (), "is one file, which every shard would replace"),
                (self.path("shards") + "/", ("--num-shards", "2"), "each process would write every TFRecord shard"),
        ):
            with self.subTest(output=output):
                proc = run_salvo("tokenize", "--model", EXAMPLE_MODEL, "--input", inputs["jsonl"], "--output",
                                 output, "--shard", "1/2", *extra, check=False)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertIn(message, proc.stderr)
                self.assertFalse(os.path.exists(output.rstrip("/")))

    def test_shard_auto_reads_the_schedulers_environment(self):
        inputs = self.write_inputs()
        out = self.path("slurm") + "/"
        for task_id in (1, 2, 3):  # an array 1-3, as `sbatch --array=1-3` numbers it
            env = dict(os.environ, SLURM_ARRAY_TASK_ID=str(task_id), SLURM_ARRAY_TASK_COUNT="3",
                       SLURM_ARRAY_TASK_MIN="1")
            proc = subprocess.run([SALVO, "embed", "--model", EXAMPLE_MODEL, "--input", inputs["jsonl"], "--output",
                                   out, "--shard", "auto", "--format", "jsonl"], env=env, capture_output=True,
                                  text=True)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn(f"shard {task_id - 1}/3 (SLURM_ARRAY_TASK_ID)", proc.stderr)
        self.assertEqual([r["id"] for r in read_parts(out)], list(range(1000)))
        env = dict(os.environ, JOB_COMPLETION_INDEX="0")
        proc = subprocess.run([SALVO, "embed", "--model", EXAMPLE_MODEL, "--input", inputs["jsonl"], "--output",
                               self.path("k8s") + "/", "--shard", "auto"], env=env, capture_output=True, text=True)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("--shard-count", proc.stderr)


class ParquetFoldersTest(CliTestCase):
    """Folders of Parquet files in and out: rows named by file, columns whose type was fixed."""

    def test_a_json_value_whose_column_type_is_fixed_otherwise_is_a_bad_row(self):
        # Regression: the first part (or row group) of a Parquet output fixes the type of a JSON
        # column; "3a" in an integer id column, or 2.5 in a kept integer column, ended the job at
        # that part (exit 2), and --resume stopped there every time.
        inp = self.path("mixed.jsonl")
        with open(inp, "w") as f:
            for row in ({"id": 1, "text": "a chess engine", "n": 1}, {"id": 2, "text": "a font", "n": 2},
                        {"id": "3a", "text": "an editor", "n": 2.5}, {"id": 4, "text": "a shell", "n": 4}):
                f.write(json.dumps(row) + "\n")
        out = self.path("parts") + "/"
        proc = run_salvo("classify", "--model", EXAMPLE_MODEL, "--input", inp, "--output", out, "--part-rows", "2",
                         "--keep-columns", "n")
        self.assertIn("4 rows, 1 errors", proc.stderr)
        rows = pq.read_table(out).to_pylist()
        self.assertEqual([r["id"] for r in rows], [1, 2, None, 4])
        self.assertEqual([r["n"] for r in rows], [1, 2, None, 4])
        self.assertEqual([r["label"] is not None for r in rows], [True] * 4)
        self.assertEqual([r["error"] is None for r in rows], [True, True, False, True])
        self.assertTrue(rows[2]["error"].startswith('column "id" holds "3a", which its Parquet type INT64'),
                        rows[2]["error"])
        self.assertIn('; column "n" holds 2.5, which its Parquet type INT64', rows[2]["error"])

    def test_column_types_give_json_columns_their_parquet_types_outright(self):
        # Without --column-types, ids typed by their first values (integers) null a later "3a";
        # with id=string every id is kept, in shards and in a single file alike.
        inp = self.path("ids.jsonl")
        with open(inp, "w") as f:
            for i in range(6):
                f.write(json.dumps({"id": i if i != 4 else "4a", "text": f"row {i}", "year": 2000 + i}) + "\n")
        for extra, out in (((), self.path("one.parquet")), (("--shard", "0/2"), self.path("sh") + "/"),
                           (("--shard", "1/2"), self.path("sh") + "/")):
            proc = run_salvo("tokenize", "--model", EXAMPLE_MODEL, "--input", inp, "--output", out,
                             "--keep-columns", "year", "--column-types", "id=string,year=float64", *extra)
            self.assertIn("0 errors", proc.stderr)
        for out in (self.path("one.parquet"), self.path("sh")):
            table = pq.read_table(out)
            self.assertEqual(table.schema.field("id").type, pa.string())
            self.assertEqual(table.schema.field("year").type, pa.float64())
            self.assertEqual(sorted(table.column("id").to_pylist()), ["0", "1", "2", "3", "4a", "5"])
        # What it refuses, before the model loads: a column the output does not carry, an unknown
        # type, an output that is not Parquet, and a column whose type the input fixes (CSV).
        with open(self.path("in.csv"), "w") as f:
            f.write("id,text\n1,a\n")
        for args, message in (
                (("--input", inp, "--output", self.path("a.parquet"), "--column-types", "nope=string"),
                 '--column-types names "nope", which is not a column the output carries'),
                (("--input", inp, "--output", self.path("a.parquet"), "--column-types", "id=decimal"),
                 '--column-types: unknown type "decimal" for "id"'),
                (("--input", inp, "--output", self.path("a.parquet"), "--column-types", "id=string,id=int64"),
                 '--column-types names "id" twice'),
                (("--input", inp, "--output", self.path("a.jsonl"), "--column-types", "id=string"),
                 "--column-types is for Parquet output; jsonl is not Parquet"),
                (("--input", self.path("in.csv"), "--output", self.path("a.parquet"), "--column-types", "id=int64"),
                 '--column-types: "id" keeps the type it has in the input')):
            with self.subTest(args=args):
                proc = run_salvo("tokenize", "--model", EXAMPLE_MODEL, *args, check=False)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertIn(message, proc.stderr)

    def test_uint64_ids_and_kept_columns_are_exact(self):
        # Regression: UINT64 values past int64 were written wrapped (2**63 + 5 as a negative id,
        # 2**64 - 1 as -1), with 0 errors.
        inp = self.path("u.parquet")
        big = [2**63 + 5, 2**64 - 1, 7]
        pq.write_table(pa.table({"id": pa.array(big, pa.uint64()), "text": ["a", "b", "c"],
                                 "u": pa.array([1, 2**64 - 2, None], pa.uint64())}), inp)
        run_salvo("tokenize", "--model", EXAMPLE_MODEL, "--input", inp, "--output", self.path("u.jsonl"),
                  "--keep-columns", "u")
        rows = read_jsonl(self.path("u.jsonl"))
        self.assertEqual([r["id"] for r in rows], big)
        self.assertEqual([r.get("u") for r in rows], [1, 2**64 - 2, None])
        run_salvo("tokenize", "--model", EXAMPLE_MODEL, "--input", inp, "--output", self.path("u.parquet.out.parquet"),
                  "--keep-columns", "u", "--column-types", "id=string,u=string")
        table = pq.read_table(self.path("u.parquet.out.parquet"))
        self.assertEqual(table.column("id").to_pylist(), [str(v) for v in big])
        self.assertEqual(table.column("u").to_pylist(), ["1", str(2**64 - 2), None])

    def test_rows_of_a_folder_of_parquet_files_are_named_by_file_and_row(self):
        # They were named by their position across the folder ("record 6"), which no file has.
        folder = self.path("pq")
        os.makedirs(folder)
        pq.write_table(pa.table({"id": [1, 2, 3], "text": ["a", None, "c"]}), os.path.join(folder, "part-0.parquet"))
        pq.write_table(pa.table({"id": [4, 5, 6, 7], "text": ["d", "e", None, "g"]}),
                       os.path.join(folder, "part-1.parquet"), row_group_size=2)
        for extra in ((), ("--shard", "1/2")):
            with self.subTest(extra=extra):
                out = self.path("out-%d" % len(extra)) + "/"
                run_salvo("tokenize", "--model", EXAMPLE_MODEL, "--input", folder, "--output", out, "--format",
                          "jsonl", *extra)
                rows = [r for name in sorted(os.listdir(out)) if name.endswith(".jsonl")
                        for r in read_jsonl(os.path.join(out, name))]
                errors = {r["id"]: r["error"] for r in rows if "error" in r}
                want = {6: os.path.join(folder, "part-1.parquet") + " row 3: text is null"}
                if not extra:
                    want[2] = os.path.join(folder, "part-0.parquet") + " row 2: text is null"
                self.assertEqual(errors, want)


if __name__ == "__main__":
    unittest.main()
