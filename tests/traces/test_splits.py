"""Stored train/test splits: the authors' split imported, splits a researcher draws, and the jobs
that must respect them."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from traces import jobs, runners
from traces.authors_data import import_authors_data
from traces.models import Checkpoint, Job, Problem, ProblemSplit, SplitMember
from traces.splits import SplitError, create_random_split, record_split, split_problems

pytestmark = pytest.mark.django_db
FAST = {"max_new_tokens": 8, "batch_size": 4}


@pytest.fixture
def authors() -> dict[str, ProblemSplit]:
    import_authors_data()
    return {s.dataset: s for s in ProblemSplit.objects.filter(name="authors")}


def test_the_authors_split_is_imported_once_with_their_test_files_order(authors):
    sides = {
        (split.dataset, side): split.members.filter(side=side).count()
        for split in authors.values() for side in ("train", "test")
    }
    assert sides == {("cotempqa", "train"): 1321, ("cotempqa", "test"): 950,
                     ("babi", "train"): 3773, ("babi", "test"): 376}
    during = list(split_problems(authors["cotempqa"], "test", "during"))
    assert len(during) == 619 and during[0].source_id == "cotempqa-during-1947"  # the file's first row
    # a test problem of equal is the problem of CoTempQA's own file, not a copy
    assert Problem.objects.filter(dataset="cotempqa", subset="equal").count() == 436
    again = import_authors_data()
    assert (again.problems_created, again.splits_created) == (0, 0)


def test_fine_tuning_refuses_the_test_problems_of_the_split_it_keeps_out(authors, tiny_model_dir):
    checkpoint = Checkpoint.objects.create(name="tiny", path=str(tiny_model_dir))
    chosen = list(Problem.objects.filter(dataset="cotempqa", subset="equal").order_by("pk")[:100])
    with pytest.raises(jobs.JobError, match=r"of the 100 chosen problems are test problems of split"):
        jobs.launch(Job.Kind.FINETUNE, checkpoint, chosen, "vanilla", {"max_steps": 1})
    assert not Job.objects.exists()
    train = jobs.select_problems("cotempqa", "equal", split="authors", side="train", limit=100)
    job = jobs.launch(Job.Kind.FINETUNE, checkpoint, train, "vanilla", {"max_steps": 1})
    assert job.parameters["split"] == "authors"
    # the split changed after launch (a problem moved to the test side): the worker refuses too
    SplitMember.objects.filter(split=authors["cotempqa"], problem=train[0]).update(side="test")
    runners.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and "test problems of split 'authors'" in job.error


def test_evaluating_a_checkpoint_on_problems_it_was_trained_on_is_refused(authors, tiny_model_dir, settings,
                                                                          tmp_path):
    settings.CHECKPOINT_DIR = tmp_path
    base = Checkpoint.objects.create(name="tiny", path=str(tiny_model_dir))
    train = list(jobs.select_problems("cotempqa", "equal", split="authors", side="train", limit=8))
    tune = jobs.launch(Job.Kind.FINETUNE, base, train, "vanilla", {"max_steps": 1, "batch_size": 2})
    runners.run_job(tune.pk)
    trained = Checkpoint.objects.get(made_by=tune)
    with pytest.raises(jobs.JobError, match=r"was fine-tuned on 8 of the 8 chosen problems"):
        jobs.launch(Job.Kind.EVALUATE, trained, train, "vanilla", FAST)
    test = jobs.select_problems("cotempqa", "equal", split="authors", side="test", limit=3)
    evaluation_job = jobs.launch(Job.Kind.EVALUATE, trained, test, "vanilla", FAST)
    runners.run_job(evaluation_job.pk)
    evaluation_job.refresh_from_db()
    assert evaluation_job.status == Job.Status.SUCCEEDED, evaluation_job.error
    assert evaluation_job.evaluation.split == authors["cotempqa"]


def test_a_job_naming_a_split_that_is_not_there_says_how_to_make_one(tiny_model_dir):
    checkpoint = Checkpoint.objects.create(name="tiny", path=str(tiny_model_dir))
    problem = Problem.objects.create(dataset="cotempqa", subset="equal", source_id="x", question="q",
                                     facts=["f"], gold_answers=["a"])
    with pytest.raises(jobs.JobError, match=r"No split named 'authors'.*create_split.*import_authors_data"):
        jobs.launch(Job.Kind.EVALUATE, checkpoint, [problem], "vanilla", FAST)
    # a dataset the authors' data does not cover, with a split of its own: the message names it
    marco, *_ = (Problem.objects.create(dataset="msmarco", subset="NUMERIC", source_id=f"msmarco-{n}",
                                       question=f"q{n}", facts=["p"], gold_answers=["a"]) for n in range(10))
    call_command("create_split", "msmarco-dev", "--dataset", "msmarco", "--test-fraction", "0.5",
                 "--seed", "1", stdout=StringIO())
    with pytest.raises(jobs.JobError) as refused:
        jobs.launch(Job.Kind.EVALUATE, checkpoint, [marco], "vanilla", FAST)
    assert "It has msmarco-dev: name one (launch_job --split NAME" in str(refused.value)
    assert "import_authors_data" not in str(refused.value)


def test_a_researcher_draws_a_named_split_once(authors):
    split = create_random_split("babi", "mine", test_fraction=0.25, seed=3, subset="counting")
    counts = {side: split.members.filter(side=side).count() for side in ("train", "test")}
    assert counts["train"] + counts["test"] == 220 and 35 < counts["test"] < 75
    with pytest.raises(SplitError, match="already exists"):
        create_random_split("babi", "mine", test_fraction=0.5)
    with pytest.raises(SplitError, match="between 0 and 1"):
        create_random_split("babi", "other", test_fraction=1.0)
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_split", "mine", "--dataset", "babi")
    call_command("create_split", "mine2", "--dataset", "babi", "--subset", "counting", "--seed", "3",
                 "--test-fraction", "0.25")
    again = ProblemSplit.objects.get(dataset="babi", name="mine2")
    sides = {(m.problem_id, m.side) for m in split.members.all()}
    assert {(m.problem_id, m.side) for m in again.members.all()} == sides


def test_a_stored_split_is_never_redrawn(authors):
    train = list(Problem.objects.filter(dataset="babi", subset="counting")[:3])
    test = list(Problem.objects.filter(dataset="babi", subset="lists-sets")[:3])
    record_split("babi", "fixed", train, test)
    assert record_split("babi", "fixed", train, test)[1] is False  # the same sides: nothing to do
    with pytest.raises(SplitError, match=r"already exists .* with other problems"):
        record_split("babi", "fixed", test, train)
    with pytest.raises(SplitError, match="both sides"):
        record_split("babi", "overlap", train, train)


def test_the_admin_draws_a_split_and_refuses_a_bad_one(admin_client, authors):
    url = reverse("admin:traces_problemsplit_add")
    form = {"dataset": "babi", "test_fraction": 0.2, "seed": 0}
    response = admin_client.post(url, {**form, "name": "admin-drawn", "subset": ""})
    assert response.status_code == 302
    split = ProblemSplit.objects.get(name="admin-drawn")
    assert split.members.count() == 4149
    bad = admin_client.post(url, {**form, "name": "empty", "subset": "no-such-task"})
    assert bad.status_code == 200 and "leaves a side empty" in bad.content.decode()
    listing = admin_client.get(reverse("admin:traces_problemsplit_changelist")).content.decode()
    assert "admin-drawn" in listing and "3773" in listing


def test_launch_job_command_takes_a_side_of_a_split(authors, tiny_model_dir, capsys):
    Checkpoint.objects.create(name="tiny", path=str(tiny_model_dir))
    call_command("launch_job", "evaluate", "--checkpoint", "tiny", "--setting", "vanilla", "--dataset",
                 "cotempqa", "--subset", "mix", "--split", "authors", "--side", "test", "--limit", "5")
    job = Job.objects.get()
    assert job.problems.count() == 5
    assert set(job.problems.values_list("pk", flat=True)) <= set(
        authors["cotempqa"].members.filter(side="test").values_list("problem_id", flat=True)
    )
    with pytest.raises(CommandError, match="test problems of split 'authors'"):
        call_command("launch_job", "finetune", "--checkpoint", "tiny", "--setting", "vanilla", "--dataset",
                     "cotempqa", "--split", "authors", "--side", "test", "--limit", "5")


def test_the_admin_launch_form_keeps_out_the_split_the_problems_come_from(admin_client, authors,
                                                                          tiny_model_dir):
    checkpoint = Checkpoint.objects.create(name="tiny", path=str(tiny_model_dir))
    mine = create_random_split("babi", "mine", test_fraction=0.5, seed=1)
    form = {"kind": "finetune", "checkpoint": checkpoint.pk, "setting": "vanilla", "dataset": "babi",
            "subset": "counting", "limit": 4, "parameters_json": '{"max_steps": 1}'}
    refused = admin_client.post(reverse("admin:traces_job_add"), {**form, "split": "mine", "side": "test"})
    assert refused.status_code == 200
    assert "test problems of split &#x27;mine&#x27;" in refused.content.decode()
    launched = admin_client.post(reverse("admin:traces_job_add"), {**form, "split": "mine", "side": "train"})
    assert launched.status_code == 302
    job = Job.objects.get()
    assert job.parameters["split"] == "mine"
    assert not job.problems.filter(split_memberships__split=mine, split_memberships__side="test").exists()
