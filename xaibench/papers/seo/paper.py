"""Seo, Oh and Oh (2018): the paper's numbers and settings, each transcribed once from its
text (../shared/papers/003_0df79accd0ee0cf4.txt) with where it is stated."""

TITLE = ("Seo et al. (2018): regional multi-scale prediction difference (Alg. 3) against "
         "DC, SA, LRP, PD and Grad-CAM")

#: Fig. 4 caption: the five conventional methods and the proposed one (key -> method)
METHODS = {"DC": "deconvolution [17]", "SA": "sensitivity analysis [14]",
           "LRP": "layer-wise relevance propagation [1]",
           "PD": "prediction difference, Alg. 2 [20]",
           "Grad-CAM": "gradient-weighted class activation mapping [12]",
           "RMPD": "regional multi-scale prediction difference, Alg. 3 (proposed)"}

#: Sec. 4: "We set the input parameter r of Algorithm 3 to 5"
SCALES = 5
#: Sec. 3.3, last paragraph: line 7 of Alg. 3 runs 2^1 + ... + 2^r times, "62 executions
#: for r = 5"
RMPD_PASSES = 62
#: Sec. 3.2: Alg. 2 "for a 256 x 256 image where k = 10, l = 14, and r = 10" (window k x k
#: inside l x l, r samples), at every pixel i (line 3: stride 1)
PD_INNER, PD_OUTER, PD_SAMPLES, PD_STRIDE = 10, 14, 10, 1
PD_IMAGE_SIDE = 256
#: Sec. 3.2: Alg. 2 line 8 "is executed r n^2 times for an n x n image" (that image)
PD_PASSES = PD_SAMPLES * PD_IMAGE_SIDE ** 2
#: Sec. 3.2: "Algorithm 2 required 70 minutes on a VGG network with a GPU" (that image)
PD_SECONDS = 70 * 60.0
#: Sec. 4: "The average computation time of Algorithm 3 was approximately 5 s" (GoogLeNet,
#: GTX1080), "two orders of magnitude faster than Algorithm 2" (its own times give 840)
RMPD_SECONDS, SPEEDUP = 5.0, 100.0
#: Fig. 2 (a) / Sec. 4 "Effect of regions": the "16-level segmentation" whose regions are
#: erased; the "Samoyed" score "dramatically drops from 70.63% to 0.01%" when its region is
#: erased (b), erasing irrelevant regions (c)-(d) shows "little effect"
FIG2_REGIONS, P_INTACT, P_ERASED = 16, 0.7063, 0.0001
#: Sec. 4 "Quantitative comparisons": "we selected 100 images from ImageNet that are
#: composed of only an object and white background"
FIG5_IMAGES = 100
#: Sec. 4 "Quantitative comparisons": "The F-measure of SA is high until the threshold
#: becomes approximately 0.2; however, this value is then reduced rapidly"
SA_FALL_THRESHOLD = 0.2

#: the paper's side of the comparison rows (item -> value)
PAPER = {
    "Sec. 3.3: forward passes per image, RMPD (r = 5, line 7)": RMPD_PASSES,
    "Sec. 3.2: forward passes per image, PD (paper: r n^2, n = 256, r = 10)": PD_PASSES,
    "Sec. 4: seconds per image, RMPD (paper: GoogLeNet on a GPU)": RMPD_SECONDS,
    "Sec. 3.2: seconds per image, PD (paper: VGG on a GPU, 256 px)": PD_SECONDS,
    "Sec. 4: speed-up of RMPD over PD (paper: two orders of magnitude)": SPEEDUP,
    "Fig. 2: class probability, image intact": P_INTACT,
    "Fig. 2: class probability, object region erased": P_ERASED,
    "Fig. 2: class probability, background region erased": "little change",
    "Fig. 5: images": FIG5_IMAGES,
}
