"""Network meta-analysis: the frequentist graph-theoretical model of R's netmeta (3.3-1).

::

    import metaverdict as mv
    pw = mv.network.pairwise(arms, treat="treatment", event="events", n="n",
                             studlab="study", sm="OR")          # arm-level data -> contrasts
    net = mv.network_meta_analysis(pw, reference="placebo", method_tau="REML")
    net.estimates(model="random")      # treatment x treatment (column vs row)
    net.league(model="random")         # network below, direct above the diagonal
    net.p_scores(small_values="good")  # ranking, with the direction of "better" stated
    net.netsplit()                     # direct vs indirect evidence per comparison
    net.decomposition()                # Q total / within / between designs
    mv.network.network_connectivity(df)   # sub-networks of a (dis)connected network
"""
from metaverdict.network.contribution import ContributionMatrix
from metaverdict.network.data import NetworkConnectivity, network_connectivity
from metaverdict.network.fit import TAU_METHODS, network_meta_analysis
from metaverdict.network.league import LeagueTable
from metaverdict.network.matrices import EstimateMatrices
from metaverdict.network.measures import NetworkMeasures
from metaverdict.network.pairwise import PairwiseContrasts, pairwise
from metaverdict.network.ranking import PScores
from metaverdict.network.results import (
    ContrastFit,
    DesignDecomposition,
    NetworkMetaAnalysisResult,
    PairHeterogeneity,
)
from metaverdict.network.split import Netsplit

__all__ = ["TAU_METHODS", "ContrastFit", "ContributionMatrix", "DesignDecomposition",
           "EstimateMatrices", "LeagueTable", "Netsplit", "NetworkConnectivity",
           "NetworkMeasures", "NetworkMetaAnalysisResult", "PScores", "PairHeterogeneity",
           "PairwiseContrasts", "network_connectivity", "network_meta_analysis", "pairwise"]
