"""The Neural GPU (Kaiser & Sutskever 2015) on binary addition and multiplication; Table 7 of Neelakantan et
al. 2015 in paper.py. `python train.py --model=neural_gpu --config=default --workdir=/tmp/ngpu`
"""

from zoo.registry import family_entry

ENTRY = family_entry(
    __name__,
    name="neural_gpu",
    description="Neural GPU (Kaiser & Sutskever 2015) on binary addition/multiplication with a length curriculum",
    # The adder that generalizes from 20- to 200-bit numbers (`badd` is the short CPU run that does not).
    default_preset="badd20",
)
