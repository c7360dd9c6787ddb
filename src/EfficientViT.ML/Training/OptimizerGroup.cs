namespace EfficientViT.ML.Training;

/// <summary>One parameter group of an optimizer built by <see cref="OptimizerFactory"/>.</summary>
/// <param name="Name">"decay", "no_decay", "backbone_decay" or "backbone_no_decay".</param>
/// <param name="ParameterNames">The model's names of the group's parameters, in model order.</param>
/// <param name="WeightDecay">The group's weight decay (0 for the no-decay groups).</param>
/// <param name="LearningRateScale">The group's learning rate as a multiple of the scheduled rate.</param>
internal sealed record OptimizerGroup(string Name, IReadOnlyList<string> ParameterNames, double WeightDecay, double LearningRateScale);
