"""Few-shot methods: ``method(episode) -> (logits [n_query, n_way], losses)``.

``crn`` (Zhu et al. 2022), ``relation`` (Sung et al. 2018), ``protonet`` (Snell et al. 2017),
``matching`` (Vinyals et al. 2016), ``cosine`` (Baseline++ / SimpleShot), ``maml``
(Finn et al. 2017) and ``anil`` (Raghu et al. 2020). The contract is in :mod:`.base`.
"""

from fsfer.models.methods.base import Method, MetricMethod
from fsfer.models.methods.cosine import CosineClassifier
from fsfer.models.methods.crn import ConvolutionalRelationNetwork, DepthAveragePooling
from fsfer.models.methods.maml import ANIL, MAML
from fsfer.models.methods.matching import MatchingNetwork
from fsfer.models.methods.protonet import PrototypicalNetwork
from fsfer.models.methods.relation import ClassSumPooling, RelationNetwork
from fsfer.models.methods.relation_module import RelationModule

__all__ = [
    "ANIL",
    "ClassSumPooling",
    "ConvolutionalRelationNetwork",
    "CosineClassifier",
    "DepthAveragePooling",
    "MAML",
    "MatchingNetwork",
    "Method",
    "MetricMethod",
    "PrototypicalNetwork",
    "RelationModule",
    "RelationNetwork",
]
