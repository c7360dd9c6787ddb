using System.CommandLine;
using EfficientViT.Training;
using EfficientViT.Training.Commands;

TcmallocRestart.IfAvailable();

var root = new RootCommand("EfficientViT for .NET: train, fine-tune, evaluate, export, predict, pretrained weights, and the Fashion-MNIST demo.")
{
    DemoCommand.Create(),
    TrainCommand.CreateTrain(),
    TrainCommand.CreateFinetune(),
    EvalCommand.Create(),
    ExportCommand.Create(),
    InfoCommand.Create(),
    PredictCommand.Create(),
    WeightsCommand.Create(),
    BenchCommand.Create(),
};
return root.Parse(args).Invoke();
