"""Mutation testing: does the suite fail when a number is wrong?

Each mutation is one small deliberate bug (a string replaced in one file of a copy of the
repository). For each, the copy is mutated, the tests that should catch it run against
the copy, and the table says whether they failed ("caught"), passed ("SURVIVED"), or
the mutation no longer applies to the code ("stale": the replaced text is gone; update
the entry). The unmutated copy must pass the same tests first ("baseline fails"
otherwise). Run on demand, not in ``make test``:

    .venv/bin/python tests/tools/mutate.py                    # every mutation (~30-60 min)
    .venv/bin/python tests/tools/mutate.py aopc eps           # those whose id contains a word
    .venv/bin/python tests/tools/mutate.py samek kohlbrenner  # the paper claims (minutes)
    .venv/bin/python tests/tools/mutate.py --list
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from typing import NamedTuple

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COPIED = ("xaibench", "tests", "models", "configs", "notebooks", "setup.cfg", "setup.py")


class Mutation(NamedTuple):
    id: str
    path: str               # file in the repository
    old: str                # text replaced (must occur exactly once)
    new: str
    tests: tuple            # pytest node ids / files that should catch it


F = "xaibench/evaluate/faithfulness.py"
LOC = "xaibench/evaluate/localisation.py"
RULES = "xaibench/analyzers/native/rules.py"
COMP = "xaibench/analyzers/native/composites.py"
LRP_TESTS = ("tests/test_lrp_rules.py", "tests/test_lrp_composites_numpy.py",
             "tests/test_native_engine.py")


def claims_of(paper: str) -> str:
    return f"xaibench/papers/{paper}/claims.py"


def claim_tests(paper: str, *names) -> tuple:
    """The pure claim tests of a paper (no reproduction run: seconds per mutation)."""
    return tuple(f"tests/test_paper_{paper}.py::{n}" for n in names)


KB_TESTS = claim_tests(
    "kohlbrenner", "test_claims_hold_on_the_papers_own_numbers",
    "test_claim_numbers_shown_decide_the_verdicts",
    "test_each_table1_claim_turns_over_on_counterfactual_numbers",
    "test_table1_claim_turns_true_on_counterfactual_pvoc", "test_table1_rows_on_the_papers_own_numbers",
    "test_fig3_claims_turn_over", "test_fig2_claims_by_hand_and_turned_over",
    "test_fig1_claim_turns_over")
SAMEK_TESTS = claim_tests(
    "samek", "test_fig4_claims_hold_on_the_papers_ordering",
    "test_fig4_claims_flip_on_counterfactuals", "test_fig8_claims_hold_on_the_papers_ordering",
    "test_fig8_claims_flip_on_counterfactuals",
    "test_fig8_deconvolution_claim_is_undecided_without_small_or_large_regions",
    "test_fig5_claims_shares_and_medians", "test_fig7_claim_is_pearson_r_of_accuracy_and_aopc",
    "test_paper_numbers_agree_with_the_rest_of_the_paper")
SEO_TESTS = claim_tests(
    "seo", "test_claim_rmpd_passes_on_the_papers_count",
    "test_claim_two_orders_faster_on_the_papers_times",
    "test_claim_regions_on_the_papers_probabilities", "test_claims_of_fig5_mean_f",
    "test_claims_of_fig5_precision_and_recall", "test_claim_sa_falls_after_02",
    "test_claim_fusion_beats_every_scale", "test_fig5_claims_in_the_comparisons_order",
    "test_paper_numbers_cross_checked")
ANJ_TESTS = claim_tests(
    "anjomshoae", "test_kept_class_claim", "test_kept_gain_claim", "test_lime_background_claim",
    "test_visual_judgement_is_undecided", "test_ci_highest_aopc_claim",
    "test_lime_same_for_classes_claim", "test_altered_recognised_claim_on_the_papers_numbers",
    "test_robust_under_noise_claim", "test_fig8_claims_on_the_papers_numbers",
    "test_paper_numbers_cross_checked_against_the_paper")
AMORIM_TESTS = claim_tests(
    "amorim", "test_decays_matter_and_control_flat", "test_table2_order_on_the_paper",
    "test_highest_fidelity_on_the_paper", "test_falls_with_decay_on_the_paper",
    "test_all_layers_least_accurate", "test_all_below_dense_on_the_paper",
    "test_best_group_wins_on_the_paper", "test_late_groups_win")


def paper_mutations(paper: str, tests: tuple, cases) -> tuple:
    """One mutation per ``(id, old, new)`` of ``cases`` in the paper's claims.py."""
    return tuple(Mutation(f"{paper}-claim-{cid}", claims_of(paper), old, new, tests)
                 for cid, old, new in cases)


MUTATIONS = (
    # --- the ones issue 18 names ---
    Mutation("aopc-normaliser-total-steps", F,
             "a = np.cumsum(d, axis=1) / np.arange(1, d.shape[1] + 1)",
             "a = np.cumsum(d, axis=1) / d.shape[1]",
             ("tests/test_evaluate_faithfulness.py", "tests/test_runner.py",
              "tests/test_paper_samek.py")),
    Mutation("kohlbrenner-fig3-spearman-minus-half", claims_of("kohlbrenner"),
             ", min(rho.values()))),", ", min(rho.values()) - 0.5)),", KB_TESTS),
    Mutation("kohlbrenner-claim-mu-grows-hardcoded", claims_of("kohlbrenner"),
             "Verdict(all(r > 0 for r in rho.values()),", "Verdict(True,", KB_TESTS),
    Mutation("epsilon-stabiliser-sign", RULES,
             "output_gradients=R / (z + sign * self.epsilon))",
             "output_gradients=R / (z + self.epsilon))", LRP_TESTS),
    Mutation("relevance-ratio-mu-w-size", LOC,
             "mu_w = mu * s_tot / np.where(s_in > 0, s_in, np.nan)",
             "mu_w = mu * s_tot / np.where(s_in > 0, s_in + 1, np.nan)",
             ("tests/test_evaluate_localisation.py",)),
    # --- the shared claim row: the paper's numbers and the verdict reach the comparison ---
    Mutation("comparison-claim-row-drops-paper", "xaibench/papers/comparison.py",
             "return Row(item, paper, verdict.shown, claim, verdict.holds)",
             "return Row(item, None, verdict.shown, claim, verdict.holds)",
             ("tests/test_papers_common.py",) + SEO_TESTS + KB_TESTS),
    Mutation("comparison-verdict-not-normalised", "xaibench/papers/comparison.py",
             "super().__new__(cls, None if holds is None else bool(holds), shown)",
             "super().__new__(cls, holds, shown)",
             ("tests/test_papers_common.py",) + ANJ_TESTS + AMORIM_TESTS),
    # --- one per claim: the verdict negated (a hard-coded True / False fails as well
    # whenever it differs from the recomputed verdict; the negation always differs) ---
    *paper_mutations("kohlbrenner", KB_TESTS, (
        ("mu-grows-negated", "Verdict(all(r > 0 for r in rho.values()),",
         "Verdict(not all(r > 0 for r in rho.values()),"),
        ("table1-above-baseline", "all(mu_w[k] > mu_w[BASELINE_KEY] for k in methods),",
         "not all(mu_w[k] > mu_w[BASELINE_KEY] for k in methods),"),
        ("table1-cmp-a2b-best", "max(methods, key=lambda k: mu_w[k]) == \"cmp_a2b\",",
         "max(methods, key=lambda k: mu_w[k]) != \"cmp_a2b\","),
        ("table1-cmp-above-others", "min(mu_w[k] for k in cmp) > max(mu_w[k] for k in others),",
         "min(mu_w[k] for k in cmp) <= max(mu_w[k] for k in others),"),
        ("table1-cmp-small-boxes", "min(mu25[k] for k in cmp) > max(mu25[k] for k in others),",
         "min(mu25[k] for k in cmp) <= max(mu25[k] for k in others),"),
        ("table1-strategy-vs-parameters", "gain > spread, vs(", "gain <= spread, vs("),
        ("table1-lrp-z-lowest", "min(methods, key=lambda k: mu_w[k]) == \"lrp_z\",",
         "min(methods, key=lambda k: mu_w[k]) != \"lrp_z\","),
        ("table1-pa-near-lrp-a1", "near == \"lrp_a1\", LABELS[near]",
         "near != \"lrp_a1\", LABELS[near]"),
        ("fig3-converge", "Verdict(spread[0] < spread[1], vs(*spread))",
         "Verdict(spread[0] >= spread[1], vs(*spread))"),
        ("fig2-occlusion-hardcoded", "Verdict(obj < ctx, vs(obj, ctx))",
         "Verdict(True, vs(obj, ctx))"),
        ("fig2-occlusion-negated", "Verdict(obj < ctx, vs(obj, ctx))",
         "Verdict(obj >= ctx, vs(obj, ctx))"),
        ("fig2-smaller-half", "Verdict(lower.mean() > upper.mean(),",
         "Verdict(lower.mean() <= upper.mean(),"),
        ("fig1-discriminative", "Verdict(cmp < uniform, vs(cmp, uniform))",
         "Verdict(cmp >= uniform, vs(cmp, uniform))"),
    )),
    *paper_mutations("samek", SAMEK_TESTS, (
        ("fig4-hardcoded", "vs(f[a], f[b]), f[a] > f[b])", "vs(f[a], f[b]), True)"),
        ("fig4-tie-is-better", "vs(f[a], f[b]), f[a] > f[b])", "vs(f[a], f[b]), f[a] >= f[b])"),
        ("fig4-lrp-best-negated", '"lrp", "other"),', '"other", "lrp"),'),
        ("fig4-deconv-second", '"deconv", "sens"),', '"sens", "deconv"),'),
        ("fig4-deconv-random", '"deconv", "random"),', '"random", "deconv"),'),
        ("fig4-eps-vs-ab", '"eps", "lrp_a2b1"),', '"lrp_a2b1", "eps"),'),
        ("fig4-eps100-vs-001", '"lrp_eps100", "lrp_eps0.01"))]', '"lrp_eps0.01", "lrp_eps100"))]'),
        ("fig8-eps-best", "vs(eps[r], rest[r]), eps[r] > rest[r],",
         "vs(eps[r], rest[r]), eps[r] <= rest[r],"),
        ("fig8-eps1-vs-100",
         "all(fig8[r][\"lrp_eps1\"] > fig8[r][\"lrp_eps100\"] for r in regions)),",
         "not all(fig8[r][\"lrp_eps1\"] > fig8[r][\"lrp_eps100\"] for r in regions)),"),
        ("fig8-deconv-large", "only_large = (all(fig8[r][\"deconv\"] > 0 for r in large)",
         "only_large = not (all(fig8[r][\"deconv\"] > 0 for r in large)"),
        ("fig5-size", "share, share >= ALMOST_ALL,", "share, share < ALMOST_ALL,"),
        ("fig5-entropy", "f\"{mine:.3f} vs {theirs:.3f}\", mine < theirs,",
         "f\"{mine:.3f} vs {theirs:.3f}\", mine >= theirs,"),
        ("fig7-follows-accuracy", "r, None if np.isnan(r) else r > 0)]",
         "r, None if np.isnan(r) else r <= 0)]"),
    )),
    # issue 18: a transcribed number of the paper is checked against the rest of the paper
    Mutation("samek-paper-region-share", "xaibench/papers/samek/paper.py",
             '"Sec. IV-A, region share of the image (%)": 0.157,',
             '"Sec. IV-A, region share of the image (%)": 0.175,', SAMEK_TESTS),
    *paper_mutations("seo", SEO_TESTS, (
        ("rmpd-passes-off-by-one", "need = 2 ** (scales + 1) - 1", "need = 2 ** (scales + 1) - 2"),
        ("two-orders-hardcoded",
         "Verdict(None if math.isnan(speedup) else speedup >= SPEEDUP, speedup)",
         "Verdict(True, speedup)"),
        ("gradcam-second-negated", "ranking[1] == \"Grad-CAM\"", "ranking[1] != \"Grad-CAM\""),
        ("sa-falls-flipped", "Verdict(early > late, vs(early, late))",
         "Verdict(early < late, vs(early, late))"),
        ("fusion-any-scale", "Verdict(all(fused_f > v for v in scale_f),",
         "Verdict(any(fused_f > v for v in scale_f),"),
    )),
    # a transcribed number of seo/paper.py mistyped: 7 minutes for Alg. 2, 62 passes as 64
    Mutation("seo-paper-pd-minutes", "xaibench/papers/seo/paper.py", "PD_SECONDS = 70 * 60.0",
             "PD_SECONDS = 7 * 60.0", SEO_TESTS),
    Mutation("seo-paper-rmpd-passes", "xaibench/papers/seo/paper.py", "RMPD_PASSES = 62",
             "RMPD_PASSES = 64", SEO_TESTS),
    *paper_mutations("anjomshoae", ANJ_TESTS, (
        ("kept-class-hardcoded", "return Verdict(share > 0.5, share)", "return Verdict(True, share)"),
        ("lime-background-flipped", "return Verdict(background[\"lime\"] > background[\"ci\"],",
         "return Verdict(background[\"lime\"] < background[\"ci\"],"),
        ("robust-threshold-inclusive", "return Verdict(mean > ROBUST_R, mean)",
         "return Verdict(mean >= ROBUST_R, mean)"),
        ("visual-decided", "    return UNDECIDED", "    return Verdict(True)"),
    )),
    # the paper's numbers, transcribed once: a slip caught by the cross-checks with the paper
    Mutation("anjomshoae-paper-fig8-p-true-digits-swapped", "xaibench/papers/anjomshoae/paper.py",
             '"p_true": 0.19,', '"p_true": 0.91,', ANJ_TESTS),
    Mutation("anjomshoae-paper-fig8-lime-true-misread", "xaibench/papers/anjomshoae/paper.py",
             '"lime_true": 0.06,', '"lime_true": 0.16,', ANJ_TESTS),
    *paper_mutations("amorim", AMORIM_TESTS, (
        ("table2-order-hardcoded", "return Verdict(ordered(aopc, order), vs(",
         "return Verdict(True, vs("),
        ("falls-with-decay-flipped", "return Verdict(low > high, vs(low, high))",
         "return Verdict(low < high, vs(low, high))"),
        ("all-below-dense-negated", "return Verdict(all(a < d for a, d in a_vs_d.values()),",
         "return Verdict(not all(a < d for a, d in a_vs_d.values()),"),
        ("late-groups-any", "return Verdict(all(g in late for g in leaders), \", \".join(leaders))",
         "return Verdict(any(g in late for g in leaders), \", \".join(leaders))"),
    )),
    # --- one per LRP rule ---
    Mutation("rule-z-no-x", RULES,
             "        return x * tape.gradient(y, x, output_gradients=safe_divide(R, z))\n\n\nclass Epsilon",
             "        return tape.gradient(y, x, output_gradients=safe_divide(R, z))\n\n\nclass Epsilon",
             LRP_TESTS),
    Mutation("rule-w-square-abs", RULES, "return [w ** 2 for w in kernels]",
             "return [tf.abs(w) for w in kernels]", LRP_TESTS),
    Mutation("rule-flat-twos", RULES, "return [tf.ones_like(w) for w in kernels]",
             "return [2 * tf.ones_like(w) + w for w in kernels]", LRP_TESTS),
    Mutation("rule-alpha-beta-sign", RULES, "return active * self.alpha - inhibit * self.beta",
             "return active * self.alpha + inhibit * self.beta", LRP_TESTS),
    Mutation("rule-bounded-high-sign", RULES, "return ra - (rb + rc)", "return ra - (rb - rc)",
             LRP_TESTS),
    Mutation("rule-z-plus-fast-input", RULES,
             "        return x * tape.gradient(z, x, output_gradients=safe_divide(R, z))\n\n\nclass Bounded",
             "        return tape.gradient(z, x, output_gradients=safe_divide(R, z))\n\n\nclass Bounded",
             LRP_TESTS),
    # --- one per composite ---
    Mutation("preset-a-conv-rule", COMP, "_preset(R.Alpha1Beta0(), epsilon, bn_rule=bn_layer_rule, **kw)",
             "_preset(R.Alpha2Beta1(), epsilon, bn_rule=bn_layer_rule, **kw)", LRP_TESTS),
    Mutation("preset-b-conv-rule", COMP, "_preset(R.Alpha2Beta1(), epsilon, bn_rule=bn_layer_rule, **kw)",
             "_preset(R.Alpha1Beta0(), epsilon, bn_rule=bn_layer_rule, **kw)", LRP_TESTS),
    Mutation("preset-dense-epsilon", COMP,
             "return LRPComposite([(is_dense, R.Epsilon(epsilon, bias=True)), (is_conv, conv_rule)],",
             "return LRPComposite([(is_dense, R.Z()), (is_conv, conv_rule)],", LRP_TESTS),
    Mutation("cam-dense-rule", COMP,
             "LRPComposite([(is_conv, R.Flat()), (is_dense, R.Z())], bn_rule=R.Z())",
             "LRPComposite([(is_conv, R.Flat()), (is_dense, R.Flat())], bn_rule=R.Z())",
             LRP_TESTS),
    Mutation("cmp-flat-until-alpha", COMP,
             "(is_conv, R.Alpha1Beta0() if alpha == 1 else R.Alpha2Beta1())],",
             "(is_conv, R.Alpha1Beta0())],", LRP_TESTS),
    Mutation("deep-taylor-bounded-input", COMP, "rule = R.Bounded(*bounds)", "rule = R.ZPlusFast()",
             LRP_TESTS),
    # --- one per metric formula ---
    Mutation("pointing-game-ties", LOC, "hit = ~np.any(is_max & ~m, axis=1)",
             "hit = np.any(is_max & m, axis=1)", ("tests/test_evaluate_localisation.py",)),
    Mutation("relevance-ratio-negative-relevance", LOC, "pos = np.maximum(h, 0).reshape(len(h), -1)",
             "pos = np.abs(h).reshape(len(h), -1)", ("tests/test_evaluate_localisation.py",)),
    Mutation("sparseness-gini-order", "xaibench/evaluate/sparseness.py",
             "g = ((2 * i - n - 1) * a).sum(axis=1) / (n * total)",
             "g = ((2 * i - n) * a).sum(axis=1) / (n * total)",
             ("tests/test_evaluate_sparseness.py",)),
    Mutation("pearson-rows-centring", "xaibench/evaluate/statistics.py",
             "    b = b - b.mean(axis=1, keepdims=True)\n", "    b = b - b.min(axis=1, keepdims=True)\n",
             ("tests/test_evaluate_faithfulness_correlation.py",
              "tests/test_evaluate_randomisation.py")),
    Mutation("insertion-deletion-auc", "xaibench/evaluate/insertion_deletion.py",
             "return ((values[..., 1:] + values[..., :-1]) * np.diff(fraction) / 2).sum(axis=-1)",
             "return (values[..., 1:] * np.diff(fraction)).sum(axis=-1)",
             ("tests/test_evaluate_insertion_deletion.py",)),
    Mutation("abpc-orders", "xaibench/evaluate/insertion_deletion.py",
             "lerf = perturbation_curve(model, x, R, y=morf.y, order=\"lerf\", **curve_kwargs)",
             "lerf = perturbation_curve(model, x, R, y=morf.y, order=\"random\", **curve_kwargs)",
             ("tests/test_evaluate_insertion_deletion.py",)),
    Mutation("road-diagonal-weight", "xaibench/evaluate/road.py",
             "(-1, -1, 1 / 12), (-1, 1, 1 / 12), (1, -1, 1 / 12), (1, 1, 1 / 12))",
             "(-1, -1, 1 / 6), (-1, 1, 1 / 6), (1, -1, 1 / 6), (1, 1, 1 / 6))",
             ("tests/test_evaluate_road.py",)),
    Mutation("randomisation-spearman-ranks", "xaibench/evaluate/randomisation.py",
             "return pearson_rows(rankdata(a, axis=1), rankdata(b, axis=1))",
             "return pearson_rows(a, rankdata(b, axis=1))",
             ("tests/test_evaluate_randomisation.py",)),
    # the formulas of the papers' other metrics
    Mutation("confidence-drop-sign", F,
             'out["drop"] = (v[..., :1] - v[..., 1:]).mean(axis=1)',
             'out["drop"] = (v[..., 1:] - v[..., :1]).mean(axis=1)',
             ("tests/test_evaluate_faithfulness.py", "tests/test_runner_metric_specs.py")),
    Mutation("kept-score-keeps-the-complement", "xaibench/evaluate/occlusion.py",
             "kept = np.where(keep[..., None], x, np.float32(fill))",
             "kept = np.where(keep[..., None], np.float32(fill), x)",
             ("tests/test_runner_metric_specs.py",)),
    Mutation("object-occlusion-object-context-swapped", "xaibench/evaluate/occlusion.py",
             '"object": f[1] - f[0], "context": f[2] - f[0]',
             '"object": f[2] - f[0], "context": f[1] - f[0]',
             ("tests/test_runner_metric_specs.py",)),
    Mutation("precision-recall-f-beta", LOC,
             "f = np.where(den > 0, (1 + b2) * precision * recall",
             "f = np.where(den > 0, (2 + b2) * precision * recall",
             ("tests/test_evaluate_localisation.py",)),
    Mutation("lime-kernel-without-sqrt", "xaibench/analyzers/perturbation/lime.py",
             "return np.sqrt(np.exp(-(d ** 2) / kernel_width ** 2))",
             "return np.exp(-(d ** 2) / kernel_width ** 2)",
             ("tests/test_perturbation_lime.py",)),
    Mutation("complexity-entropy-in-nats", "xaibench/evaluate/complexity.py",
             "return float(_entropy(counts, base=2))",
             "return float(_entropy(counts))",
             ("tests/test_evaluate_complexity_statistics.py",)),
)


def copy_repo(dest: str) -> None:
    for name in COPIED:
        src = os.path.join(ROOT, name)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(dest, name),
                            ignore=shutil.ignore_patterns("__pycache__", "out", "*.pyc"))
        elif os.path.exists(src):
            shutil.copy2(src, os.path.join(dest, name))


def run_tests(copy: str, tests) -> int:
    env = dict(os.environ, PYTHONPATH=copy, TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    return subprocess.run(cmd, cwd=copy, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode


def apply(copy: str, m: Mutation) -> bool:
    path = os.path.join(copy, m.path)
    with open(path) as f:
        text = f.read()
    if text.count(m.old) != 1:
        return False
    with open(path, "w") as f:
        f.write(text.replace(m.old, m.new))
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description="mutation testing of the suite")
    parser.add_argument("words", nargs="*", help="run the mutations whose id contains one")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    chosen = [m for m in MUTATIONS if not args.words or any(w in m.id for w in args.words)]
    if args.list:
        for m in chosen:
            print(f"{m.id:<44} {m.path}")
        return 0
    baseline_ok: dict = {}
    results = []
    with tempfile.TemporaryDirectory(prefix="xaibench-mutate-") as tmp:
        clean = os.path.join(tmp, "clean")
        copy_repo(clean)
        for m in chosen:
            key = tuple(m.tests)
            if key not in baseline_ok:
                baseline_ok[key] = run_tests(clean, m.tests) == 0
            copy = os.path.join(tmp, "mutant")
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(clean, copy)
            if not baseline_ok[key]:
                verdict = "baseline fails"
            elif not apply(copy, m):
                verdict = "stale"
            else:
                verdict = "caught" if run_tests(copy, m.tests) != 0 else "SURVIVED"
            results.append((m, verdict))
            files = sorted({os.path.basename(t.split("::")[0]) for t in m.tests})
            print(f"{verdict:<15} {m.id:<44} {', '.join(files)}", flush=True)
    caught = sum(v == "caught" for _, v in results)
    print(f"\n{caught} of {len(results)} mutations caught")
    return 0 if caught == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
