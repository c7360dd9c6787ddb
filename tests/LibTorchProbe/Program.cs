// Usage: LibTorchProbe. Runs one image through a small EfficientViT-M0, the library's first TorchSharp
// call, and prints the feature count; a libtorch that does not match TorchSharp fails here.
using EfficientViT.ML.Modeling;
using TorchSharp;

using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: 64, numClasses: 10);
model.eval();
using var features = model.PooledFeatures(torch.rand(1, 3, 64, 64));
Console.WriteLine($"features: {features.shape[1]}");
return 0;
